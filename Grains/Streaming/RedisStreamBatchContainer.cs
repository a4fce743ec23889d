using Orleans.Runtime;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>One Redis stream entry as the pulling agent caches and delivers it: the events of one publish call.</summary>
[GenerateSerializer, Alias("cluster.streaming.redis-batch")]
internal sealed class RedisStreamBatchContainer : IBatchContainer
{
    public RedisStreamBatchContainer(RedisStreamEvent entry, RedisValue entryId)
    {
        StreamId = entry.StreamId;
        Token = entry.Token;
        Events = entry.Events;
        RequestContext = entry.RequestContext;
        _redisEntryId = entryId;
    }

    [NonSerialized] private readonly RedisValue _redisEntryId;

    [Id(0)] public StreamId StreamId { get; }

    [Id(1)] public RedisStreamSequenceToken Token { get; }

    [Id(2)] public object?[] Events { get; }

    [Id(3)] public Dictionary<string, object>? RequestContext { get; }

    /// <summary>The entry id as Redis returned it, kept for XACK; not serialized (a copy acknowledges nothing).</summary>
    public RedisValue RedisEntryId => _redisEntryId;

    public StreamSequenceToken SequenceToken => Token;

    public IEnumerable<Tuple<T, StreamSequenceToken>> GetEvents<T>()
    {
        for (var i = 0; i < Events.Length; i++)
        {
            var item = Events[i];
            if (item is T typed) yield return Tuple.Create<T, StreamSequenceToken>(typed, Token.CreateSequenceTokenForEvent(i));
            else if (item is null && default(T) is null) yield return Tuple.Create<T, StreamSequenceToken>(default!, Token.CreateSequenceTokenForEvent(i));
        }
    }

    public bool ImportRequestContext()
    {
        if (RequestContext is null) return false;
        RequestContextExtensions.Import(RequestContext);
        return true;
    }

    public override string ToString() => $"{StreamId} @ {Token} ({Events.Length} events)";
}
