using System.Collections.Concurrent;
using Cluster.Grains.Redis;
using Microsoft.Extensions.Logging;

namespace Cluster.Grains.Streams;

/// <summary>The silo's one tail per stream, created on first use.</summary>
public sealed class StreamTails(IRedis redis, ILoggerFactory loggers) : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Lazy<StreamTail>> _tails = new(StringComparer.Ordinal);

    public StreamTail this[string stream] =>
        _tails.GetOrAdd(stream, s => new Lazy<StreamTail>(() => new StreamTail(redis, s, loggers.CreateLogger<StreamTail>()))).Value;

    public async ValueTask DisposeAsync()
    {
        foreach (var tail in _tails.Values.Where(t => t.IsValueCreated)) await tail.Value.DisposeAsync().ConfigureAwait(false);
    }
}
