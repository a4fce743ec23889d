using System.Diagnostics.Metrics;

namespace Cluster.Grains.Redis;

/// <summary>
/// Counters of the Redis client, under the meter <see cref="MeterName"/> (add it to OpenTelemetry with
/// <c>AddMeter</c>). Each measurement carries the connection's client name as <c>redis.client.name</c>.
/// </summary>
public static class RedisMetrics
{
    public const string MeterName = "Cluster.Redis";

    private static readonly Meter Meter = new(MeterName);

    /// <summary>Commands sent; compare with <see cref="Writes"/> to see how well they are batched.</summary>
    internal static readonly Counter<long> Commands = Meter.CreateCounter<long>("redis.client.commands", "{command}", "Commands sent to Redis");

    internal static readonly Counter<long> Writes = Meter.CreateCounter<long>("redis.client.writes", "{write}", "Socket writes, each carrying one or more commands");

    internal static readonly Counter<long> ReaderHandoffs = Meter.CreateCounter<long>("redis.client.reader_handoffs", "{handoff}", "Times a caller resumed on a connection's reader held it so long that another thread took over reading");

    internal static readonly Counter<long> ConnectionsLost = Meter.CreateCounter<long>("redis.client.connections_lost", "{connection}", "Links to Redis that died");
}
