using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Lua;

internal sealed class LuaMachineGrain(IRedis redis, string id) : IMachineGrain
{
    public string Id { get; } = id;

    public async Task<MachineState?> GetAsync(CancellationToken cancellationToken = default)
    {
        var hash = redis.ExecuteAsync("HGETALL", ["machine:" + Id], cancellationToken);
        var members = redis.ExecuteAsync("SMEMBERS", ["machine:" + Id + ":workers"], cancellationToken);
        var reply = await hash;
        if (reply.Items.Count == 0) return null;
        var ids = (await members).Items.Select(i => i.ToString()).Order(StringComparer.Ordinal).ToArray();
        var workers = await Task.WhenAll(ids.Select(w => new LuaWorkerGrain(redis, w).GetAsync(cancellationToken)));
        var f = HashFields.Of(reply);
        var present = workers.OfType<WorkerState>().ToArray();
        return new MachineState
        {
            Id = Id,
            Status = MachineStatus.From(present),
            Host = f.Text("host"),
            GpuCount = f.Int("gpu_count"),
            CreatedAt = f.Text("created_at"),
            LastSeen = f.Text("last_seen"),
            Workers = present,
        };
    }
}
