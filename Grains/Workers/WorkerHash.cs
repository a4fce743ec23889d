using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Workers;

internal static class WorkerHash
{
    public static WorkerState? Read(RespValue reply)
    {
        if (reply.IsNull || reply.Items.Count == 0) return null;
        var f = HashFields.Of(reply);
        string? Text(string name) => f.Text(name);
        int? Int(string name) => f.Int(name);
        return new WorkerState
        {
            Id = Text("id") ?? "",
            MachineId = Text("machine_id") ?? "",
            Status = Text("status") ?? WorkerStatus.Offline,
            Concurrency = Int("concurrency") ?? 1,
            Active = Int("active") ?? 0,
            CurrentJobId = Text("current_job_id"),
            Capabilities = Text("capabilities") is { } caps ? JsonSerializer.Deserialize<WorkerCapabilities>(caps, ClusterJson.Options) : null,
            GpuIndex = Int("gpu_index"),
            RegisteredAt = Text("registered_at"),
            LastHeartbeat = Text("last_heartbeat"),
        };
    }
}
