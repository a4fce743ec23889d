using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using StackExchange.Redis;

namespace Cluster.Grains.Workers;

/// <summary>Listings across machines and workers, paginated by id so the monitor never loads the whole fleet.</summary>
public sealed class Fleet(IConnectionMultiplexer redis, Func<string, IWorkerGrain> worker, Func<string, IMachineGrain> machine)
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
            ids = await IdsAfterAsync("machines", cursor, limit + 1, cancellationToken).ConfigureAwait(false);
        }
        var machines = await Task.WhenAll(ids.Take(limit).Select(id => machine(id).GetAsync(cancellationToken))).ConfigureAwait(false);
        var next = ids.Length > limit ? ids[limit - 1] : null;
        return new Page<MachineState>(machines.OfType<MachineState>().ToArray(), next);
    }

    public async Task<Page<WorkerState>> ListWorkersAsync(string? cursor, int limit, CancellationToken cancellationToken = default)
    {
        limit = Math.Clamp(limit, 1, JobLimits.MaxListLimit);
        var ids = await IdsAfterAsync("workers", cursor, limit + 1, cancellationToken).ConfigureAwait(false);
        var workers = await Task.WhenAll(ids.Take(limit).Select(id => worker(id).GetAsync(cancellationToken))).ConfigureAwait(false);
        return new Page<WorkerState>(workers.OfType<WorkerState>().ToArray(), ids.Length > limit ? ids[limit - 1] : null);
    }

    /// <summary>Up to <paramref name="count"/> members of an index (a zset of equal scores, ordered by id) after <paramref name="cursor"/>, or from the first.</summary>
    private async Task<string[]> IdsAfterAsync(string index, string? cursor, int count, CancellationToken cancellationToken)
    {
        var ids = await redis.GetDatabase().SortedSetRangeByValueAsync(index, cursor is null ? default : (RedisValue)cursor, default, Exclude.Start, Order.Ascending, 0, count)
            .WaitAsync(cancellationToken).ConfigureAwait(false);
        return Array.ConvertAll(ids, id => id.ToString());
    }
}
