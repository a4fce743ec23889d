using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal static class WorkerHash
{
    public static WorkerState? Read(RespValue reply)
    {
        if (reply.IsNull || reply.Items.Count == 0) return null;
        var f = HashFields.Of(reply);
        return new WorkerState
        {
            Id = f.Text("id") ?? "",
            MachineId = f.Text("machine_id") ?? "",
            Status = f.Text("status") ?? WorkerStatus.Offline,
            Concurrency = f.Int("concurrency") ?? 1,
            Active = f.Int("active") ?? 0,
            CurrentJobId = f.Text("current_job_id"),
            Capabilities = f.Text("capabilities") is { } caps ? JsonSerializer.Deserialize<WorkerCapabilities>(caps, ClusterJson.Options) : null,
            GpuIndex = f.Int("gpu_index"),
            RegisteredAt = f.Text("registered_at"),
            LastHeartbeat = f.Text("last_heartbeat"),
        };
    }
}
