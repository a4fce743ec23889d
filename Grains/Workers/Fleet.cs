using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Workers;

/// <summary>Listings across machines and workers, paginated by id so the monitor never loads the whole fleet.</summary>
public sealed class Fleet(IRedis redis, Func<string, IWorkerGrain> worker, Func<string, IMachineGrain> machine)
{
    /// <summary>Machines in id order after <paramref name="cursor"/>; <paramref name="only"/> picks a set of machines instead.</summary>
    public async Task<Page<MachineState>> ListMachinesAsync(string? cursor, int limit, IReadOnlyCollection<string>? only = null, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        string[] ids;
        if (only is { Count: > 0 })
        {
            ids = only.Order(StringComparer.Ordinal).Where(id => cursor is null || string.CompareOrdinal(id, cursor) > 0).Take(limit + 1).ToArray();
        }
        else
        {
            var min = cursor is null ? "-" : "(" + cursor;
            var reply = await redis.ExecuteAsync("ZRANGEBYLEX", ["machines", min, "+", "LIMIT", 0, limit + 1], cancellationToken).ConfigureAwait(false);
            ids = reply.Items.Select(i => i.ToString()).ToArray();
        }
        var machines = await Task.WhenAll(ids.Take(limit).Select(id => machine(id).GetAsync(cancellationToken))).ConfigureAwait(false);
        var next = ids.Length > limit ? ids[limit - 1] : null;
        return new Page<MachineState>(machines.OfType<MachineState>().ToArray(), next);
    }

    public async Task<Page<WorkerState>> ListWorkersAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        var min = cursor is null ? "-" : "(" + cursor;
        var reply = await redis.ExecuteAsync("ZRANGEBYLEX", ["workers", min, "+", "LIMIT", 0, limit + 1], cancellationToken).ConfigureAwait(false);
        var ids = reply.Items.Select(i => i.ToString()).ToArray();
        var workers = await Task.WhenAll(ids.Take(limit).Select(id => worker(id).GetAsync(cancellationToken))).ConfigureAwait(false);
        return new Page<WorkerState>(workers.OfType<WorkerState>().ToArray(), ids.Length > limit ? ids[limit - 1] : null);
    }
}
