using System.Text.Json;
using Cluster.Grains.Functions;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal sealed class LuaWorkerGrain(IRedis redis, string id) : IWorkerGrain
{
    public string Id { get; } = id;

    public async Task<int> RegisterAsync(WorkerRegistration registration, CancellationToken cancellationToken = default)
    {
        var spec = JsonSerializer.SerializeToNode(registration with { WorkerId = Id }, ClusterJson.Options)!.AsObject();
        spec["capabilities"] = JsonSerializer.Serialize(registration.Capabilities, ClusterJson.Options);
        var json = spec.ToJsonString();
        return (int)(await redis.CallAsync("worker_register", [json], cancellationToken)).Integer;
    }

    /// <summary>The worker hash in Redis never forgets a hold, so <paramref name="held"/> adds nothing here.</summary>
    public async Task<IReadOnlyList<string>> HeartbeatAsync(TimeSpan lease, IReadOnlyDictionary<string, string>? held = null, CancellationToken cancellationToken = default)
    {
        var reply = await redis.CallAsync("worker_heartbeat", [Id, (long)lease.TotalMilliseconds], cancellationToken);
        return reply.Items.Select(i => i.ToString()).ToArray();
    }

    public Task UnregisterAsync(string reason, CancellationToken cancellationToken = default) =>
        redis.CallAsync("worker_unregister", [Id, reason], cancellationToken);

    public async Task<WorkerState?> GetAsync(CancellationToken cancellationToken = default) =>
        WorkerHash.Read(await redis.ExecuteAsync("HGETALL", ["worker:" + Id], cancellationToken));
}
