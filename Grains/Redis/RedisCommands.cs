using System.Buffers;

namespace Cluster.Grains.Redis;

/// <summary>
/// Typed helpers for the commands the grains use most: functions, streams, hashes and sorted sets.
/// Each builds one command and shapes its reply the same way under RESP2 and RESP3; anything else
/// goes through <see cref="IRedis.ExecuteAsync(string, ReadOnlySpan{RedisArg})"/> directly.
/// </summary>
public static class RedisCommands
{
    /// <summary><c>FCALL function numkeys key… arg…</c>.</summary>
    public static Task<RespValue> FCallAsync(this IRedis redis, string function, ReadOnlySpan<RedisArg> keys, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken = default) =>
        Call(redis, "FCALL", function, keys, args, cancellationToken);

    /// <summary><c>FCALL_RO</c>: for functions flagged no-writes, which replicas may serve.</summary>
    public static Task<RespValue> FCallReadOnlyAsync(this IRedis redis, string function, ReadOnlySpan<RedisArg> keys, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken = default) =>
        Call(redis, "FCALL_RO", function, keys, args, cancellationToken);

    private static Task<RespValue> Call(IRedis redis, string command, string function, ReadOnlySpan<RedisArg> keys, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(redis);
        using var list = new ArgList(2 + keys.Length + args.Length);
        list.Add(function);
        list.Add(keys.Length);
        list.AddRange(keys);
        list.AddRange(args);
        return redis.ExecuteAsync(command, list.Span, cancellationToken);
    }

    /// <summary><c>FUNCTION LOAD [REPLACE] source</c>; returns the library's name.</summary>
    public static async Task<string> FunctionLoadAsync(this IRedis redis, string source, bool replace = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = replace
            ? await redis.ExecuteAsync("FUNCTION", ["LOAD", "REPLACE", source], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync("FUNCTION", ["LOAD", source], cancellationToken).ConfigureAwait(false);
        return reply.ToString();
    }

    /// <summary>
    /// <c>XADD key [MAXLEN ~ n] * field value…</c>; returns the new entry's id. With <paramref name="maxLength"/>
    /// the stream is trimmed to about that many entries (whole macro nodes at a time, which is cheap).
    /// </summary>
    public static Task<string> XAddAsync(this IRedis redis, string key, ReadOnlySpan<(RedisArg Field, RedisArg Value)> fields, long? maxLength = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        if (fields.IsEmpty) throw new ArgumentException("A stream entry needs at least one field", nameof(fields));
        using var list = new ArgList(5 + fields.Length * 2);
        list.Add(key);
        if (maxLength is { } max)
        {
            list.Add("MAXLEN");
            list.Add("~");
            list.Add(max);
        }
        list.Add("*");
        foreach (var (field, value) in fields)
        {
            list.Add(field);
            list.Add(value);
        }
        return AsString(redis.ExecuteAsync("XADD", list.Span, cancellationToken));
    }

    /// <summary>
    /// <c>XREAD [COUNT n] [BLOCK ms] STREAMS key… id…</c>: entries after each id. With <paramref name="block"/>
    /// (<see cref="Timeout.InfiniteTimeSpan"/> waits for ever) it runs on a blocking connection and returns
    /// an empty list if nothing arrived in time.
    /// </summary>
    public static Task<IReadOnlyList<StreamBatch>> XReadAsync(this IRedis redis, IReadOnlyList<(string Stream, string AfterId)> streams, int? count = null, TimeSpan? block = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var args = new List<RedisArg>(4 + streams.Count * 2);
        AddReadOptions(args, count, block);
        AddStreams(args, streams);
        return ReadStreamsAsync(redis, "XREAD", args, block is not null, cancellationToken);
    }

    /// <summary>
    /// <c>XREADGROUP GROUP group consumer [COUNT n] [BLOCK ms] [NOACK] STREAMS key… id…</c>. Pass id <c>&gt;</c> for
    /// entries never delivered to the group, or <c>0</c> for this consumer's own pending entries.
    /// </summary>
    public static Task<IReadOnlyList<StreamBatch>> XReadGroupAsync(this IRedis redis, string group, string consumer, IReadOnlyList<(string Stream, string Id)> streams,
        int? count = null, TimeSpan? block = null, bool noAck = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(streams);
        var args = new List<RedisArg>(8 + streams.Count * 2) { "GROUP", group, consumer };
        AddReadOptions(args, count, block);
        if (noAck) args.Add("NOACK");
        AddStreams(args, streams);
        return ReadStreamsAsync(redis, "XREADGROUP", args, block is not null, cancellationToken);
    }

    private static void AddReadOptions(List<RedisArg> args, int? count, TimeSpan? block)
    {
        if (count is { } n)
        {
            args.Add("COUNT");
            args.Add(n);
        }
        if (block is { } wait)
        {
            args.Add("BLOCK");
            args.Add(wait == Timeout.InfiniteTimeSpan ? 0 : Math.Max(1, (long)wait.TotalMilliseconds));
        }
    }

    private static void AddStreams(List<RedisArg> args, IReadOnlyList<(string Stream, string Id)> streams)
    {
        if (streams.Count == 0) throw new ArgumentException("Name at least one stream", nameof(streams));
        args.Add("STREAMS");
        foreach (var (stream, _) in streams) args.Add(stream);
        foreach (var (_, id) in streams) args.Add(id);
    }

    private static async Task<IReadOnlyList<StreamBatch>> ReadStreamsAsync(IRedis redis, string command, List<RedisArg> args, bool blocking, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = blocking
            ? await redis.ExecuteBlockingAsync(command, [.. args], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync(command, [.. args], cancellationToken).ConfigureAwait(false);
        if (reply.IsNull) return [];
        var items = reply.Items;
        var batches = new List<StreamBatch>();
        if (reply.Kind == RespKind.Map)
        {
            for (var i = 0; i + 1 < items.Count; i += 2) batches.Add(new StreamBatch(items[i].ToString(), StreamEntry.ListFrom(items[i + 1])));
        }
        else
        {
            foreach (var stream in items) batches.Add(new StreamBatch(stream.Items[0].ToString(), StreamEntry.ListFrom(stream.Items[1])));
        }
        return batches;
    }

    /// <summary><c>XACK key group id…</c>; returns how many were pending and are now acknowledged.</summary>
    public static Task<long> XAckAsync(this IRedis redis, string key, string group, ReadOnlySpan<RedisArg> ids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        using var list = new ArgList(2 + ids.Length);
        list.Add(key);
        list.Add(group);
        list.AddRange(ids);
        return AsInteger(redis.ExecuteAsync("XACK", list.Span, cancellationToken));
    }

    /// <summary><c>XGROUP CREATE key group id [MKSTREAM]</c>; false if the group already exists.</summary>
    public static async Task<bool> XGroupCreateAsync(this IRedis redis, string key, string group, string startId = "$", bool makeStream = true, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        try
        {
            if (makeStream) await redis.ExecuteAsync("XGROUP", ["CREATE", key, group, startId, "MKSTREAM"], cancellationToken).ConfigureAwait(false);
            else await redis.ExecuteAsync("XGROUP", ["CREATE", key, group, startId], cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (RedisServerException e) when (e.Code == "BUSYGROUP")
        {
            return false;
        }
    }

    /// <summary><c>XAUTOCLAIM key group consumer min-idle start [COUNT n]</c>: takes over entries idle at least <paramref name="minIdle"/>.</summary>
    public static async Task<StreamAutoClaim> XAutoClaimAsync(this IRedis redis, string key, string group, string consumer, TimeSpan minIdle,
        string startId = "0-0", int? count = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var idle = (long)minIdle.TotalMilliseconds;
        var reply = count is { } n
            ? await redis.ExecuteAsync("XAUTOCLAIM", [key, group, consumer, idle, startId, "COUNT", n], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync("XAUTOCLAIM", [key, group, consumer, idle, startId], cancellationToken).ConfigureAwait(false);
        var items = reply.Items;
        var deleted = items.Count > 2 ? items[2].Items.Select(i => i.ToString()).ToArray() : [];
        return new StreamAutoClaim(items[0].ToString(), StreamEntry.ListFrom(items[1]).Where(e => e.Fields.Count > 0).ToArray(), deleted);
    }

    /// <summary><c>XRANGE key start end [COUNT n]</c>; "-" and "+" are the first and last ids, "(" before an id excludes it.</summary>
    public static async Task<IReadOnlyList<StreamEntry>> XRangeAsync(this IRedis redis, string key, string start = "-", string end = "+", int? count = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = count is { } n
            ? await redis.ExecuteAsync("XRANGE", [key, start, end, "COUNT", n], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync("XRANGE", [key, start, end], cancellationToken).ConfigureAwait(false);
        return StreamEntry.ListFrom(reply);
    }

    /// <summary><c>HGET key field</c>; a null reply (<see cref="RespValue.IsNull"/>) when the field or key is missing.</summary>
    public static Task<RespValue> HGetAsync(this IRedis redis, string key, RedisArg field, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        return redis.ExecuteAsync("HGET", [key, field], cancellationToken);
    }

    /// <summary><c>HSET key field value…</c>; returns how many fields were new.</summary>
    public static Task<long> HSetAsync(this IRedis redis, string key, ReadOnlySpan<(RedisArg Field, RedisArg Value)> fields, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        if (fields.IsEmpty) throw new ArgumentException("Set at least one field", nameof(fields));
        using var list = new ArgList(1 + fields.Length * 2);
        list.Add(key);
        foreach (var (field, value) in fields)
        {
            list.Add(field);
            list.Add(value);
        }
        return AsInteger(redis.ExecuteAsync("HSET", list.Span, cancellationToken));
    }

    /// <summary><c>HGETALL key</c> as a dictionary; empty when the key is missing.</summary>
    public static async Task<Dictionary<string, RespValue>> HGetAllAsync(this IRedis redis, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = await redis.ExecuteAsync("HGETALL", [key], cancellationToken).ConfigureAwait(false);
        return reply.ToDictionary();
    }

    /// <summary><c>ZADD key score member</c>; true if the member is new (its score is set either way).</summary>
    public static async Task<bool> ZAddAsync(this IRedis redis, string key, RedisArg member, double score, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = await redis.ExecuteAsync("ZADD", [key, score, member], cancellationToken).ConfigureAwait(false);
        return reply.Integer == 1;
    }

    /// <summary><c>ZADD key score member…</c>; returns how many members were new.</summary>
    public static Task<long> ZAddAsync(this IRedis redis, string key, ReadOnlySpan<(RedisArg Member, double Score)> members, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        if (members.IsEmpty) throw new ArgumentException("Add at least one member", nameof(members));
        using var list = new ArgList(1 + members.Length * 2);
        list.Add(key);
        foreach (var (member, score) in members)
        {
            list.Add(score);
            list.Add(member);
        }
        return AsInteger(redis.ExecuteAsync("ZADD", list.Span, cancellationToken));
    }

    /// <summary><c>ZRANGE key start stop [REV]</c> by rank (0 is the lowest score, -1 the highest).</summary>
    public static async Task<IReadOnlyList<RespValue>> ZRangeAsync(this IRedis redis, string key, long start, long stop, bool reverse = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = reverse
            ? await redis.ExecuteAsync("ZRANGE", [key, start, stop, "REV"], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync("ZRANGE", [key, start, stop], cancellationToken).ConfigureAwait(false);
        return reply.Items;
    }

    /// <summary><c>ZRANGE key start stop [REV] WITHSCORES</c>.</summary>
    public static async Task<IReadOnlyList<(RespValue Member, double Score)>> ZRangeWithScoresAsync(this IRedis redis, string key, long start, long stop, bool reverse = false, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = reverse
            ? await redis.ExecuteAsync("ZRANGE", [key, start, stop, "REV", "WITHSCORES"], cancellationToken).ConfigureAwait(false)
            : await redis.ExecuteAsync("ZRANGE", [key, start, stop, "WITHSCORES"], cancellationToken).ConfigureAwait(false);
        var items = reply.Items;
        var result = new List<(RespValue, double)>(items.Count);
        // RESP3 pairs each member with its score; RESP2 sends them flat.
        if (items.Count > 0 && items[0].Kind == RespKind.Array)
            foreach (var pair in items) result.Add((pair.Items[0], pair.Items[1].Double));
        else
            for (var i = 0; i + 1 < items.Count; i += 2) result.Add((items[i], items[i + 1].Double));
        return result;
    }

    /// <summary><c>ZSCORE key member</c>; null when the member is missing.</summary>
    public static async Task<double?> ZScoreAsync(this IRedis redis, string key, RedisArg member, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var reply = await redis.ExecuteAsync("ZSCORE", [key, member], cancellationToken).ConfigureAwait(false);
        return reply.IsNull ? null : reply.Double;
    }

    /// <summary><c>ZREM key member…</c>; returns how many were removed.</summary>
    public static Task<long> ZRemAsync(this IRedis redis, string key, ReadOnlySpan<RedisArg> members, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        using var list = new ArgList(1 + members.Length);
        list.Add(key);
        list.AddRange(members);
        return AsInteger(redis.ExecuteAsync("ZREM", list.Span, cancellationToken));
    }

    private static async Task<string> AsString(Task<RespValue> reply) => (await reply.ConfigureAwait(false)).ToString();

    private static async Task<long> AsInteger(Task<RespValue> reply) => (await reply.ConfigureAwait(false)).Integer;

    /// <summary>
    /// Arguments gathered in a pooled array. <see cref="IRedis.ExecuteAsync(string, ReadOnlySpan{RedisArg})"/>
    /// encodes or copies them before it returns, so the array goes back to the pool straight after.
    /// </summary>
    private ref struct ArgList(int capacity)
    {
        private readonly RedisArg[] _array = ArrayPool<RedisArg>.Shared.Rent(capacity);
        private int _count;

        public readonly ReadOnlySpan<RedisArg> Span => _array.AsSpan(0, _count);

        public void Add(RedisArg arg) => _array[_count++] = arg;

        public void AddRange(ReadOnlySpan<RedisArg> args)
        {
            args.CopyTo(_array.AsSpan(_count));
            _count += args.Length;
        }

        public readonly void Dispose() => ArrayPool<RedisArg>.Shared.Return(_array, clearArray: true);
    }
}
