using Cluster.Grains.Streams;
using StackExchange.Redis;

namespace Cluster.Testing;

public static class StreamReading
{
    /// <summary>Every event of a stream, oldest first, read in pages so that a long stream is not one huge reply.</summary>
    public static async Task<List<StreamEvent>> ReadStreamAsync(this IDatabase redis, string stream)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var all = new List<StreamEvent>();
        var from = "-";
        while (true)
        {
            var page = StreamTail.Parse(stream, await redis.StreamRangeAsync(stream, from, "+", 5000));
            if (page.Count == 0) return all;
            all.AddRange(page);
            from = "(" + page[^1].Id;
        }
    }
}
