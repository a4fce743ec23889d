using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

/// <summary>Reads a <c>workflow:{id}</c> hash, including ones written by seed-era code.</summary>
internal static class WorkflowHash
{
    public static WorkflowState Read(RespValue reply)
    {
        var f = HashFields.Of(reply);
        int Int(string name) => (int)f.Number(name);
        return new WorkflowState
        {
            Id = f.Text("id") ?? "",
            Name = f.Text("name"),
            Description = f.Text("description"),
            Status = f.Text("status") ?? "",
            TotalSteps = Int("total_steps"),
            CompletedSteps = Int("completed_steps"),
            FailedSteps = Int("failed_steps"),
            FailurePolicy = f.Text("failure_policy"),
            WebhookUrl = f.Text("webhook_url"),
            CreatedAt = f.Text("created_at"),
            CompletedAt = f.Text("completed_at"),
        };
    }
}
