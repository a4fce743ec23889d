using System.Collections.Concurrent;

namespace Cluster.Grains.Redis;

/// <summary>
/// One timer for every open connection in the process: each tick times out expired replies and rescues
/// readers held by a caller. A timer per connection woke a thread-pool thread per connection twenty times
/// a second, which was about a third of an idle silo's CPU.
/// </summary>
internal static class ConnectionSweeper
{
    public static readonly TimeSpan Interval = TimeSpan.FromMilliseconds(50);

    private static readonly ConcurrentDictionary<RedisConnection, byte> Connections = new();
    private static readonly Lock Gate = new();
    private static Timer? s_timer;

    public static void Add(RedisConnection connection)
    {
        Connections[connection] = 0;
        lock (Gate)
        {
            if (s_timer is not null) return;
            // The timer outlives whoever opened the first connection: it does not carry their AsyncLocals.
            using (ExecutionContext.SuppressFlow())
                s_timer = new Timer(static _ => Tick(), null, Interval, Interval);
        }
    }

    public static void Remove(RedisConnection connection) => Connections.TryRemove(connection, out _);

    private static void Tick()
    {
        foreach (var connection in Connections.Keys) connection.Sweep();
        if (!Connections.IsEmpty) return;
        lock (Gate)
        {
            // Checked again under the gate: a connection added meanwhile keeps the timer.
            if (!Connections.IsEmpty || s_timer is null) return;
            s_timer.Dispose();
            s_timer = null;
        }
    }
}
