using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Workflows;

/// <summary>Reads a <c>workflow:{id}</c> hash, including ones written by seed-era code.</summary>
internal static class WorkflowHash
{
    public static WorkflowState Read(RespValue reply)
    {
        var f = HashFields.Of(reply);
        string? Text(string name) => f.Text(name);
        int Int(string name) => (int)f.Number(name);
        return new WorkflowState
        {
            Id = Text("id") ?? "",
            Name = Text("name"),
            Description = Text("description"),
            Status = Text("status") ?? "",
            TotalSteps = Int("total_steps"),
            CompletedSteps = Int("completed_steps"),
            FailedSteps = Int("failed_steps"),
            FailurePolicy = Text("failure_policy"),
            WebhookUrl = Text("webhook_url"),
            CreatedAt = Text("created_at"),
            CompletedAt = Text("completed_at"),
        };
    }
}
