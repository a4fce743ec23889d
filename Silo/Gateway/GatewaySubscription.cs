using System.Text;
using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Streams;

namespace Cluster.Silo.Gateway;

/// <summary>
/// One subscription of one connection. From the moment it is attached to its stream's tail until it is released, the
/// live feed is held back in a buffer: the client must read the <c>subscribed</c> acknowledgement before any event, and
/// a subscribe with <c>since</c> replays history first. On release, held events newer than the last replayed one are
/// delivered and the rest dropped, so that nothing is lost or repeated in the handoff.
/// </summary>
public sealed class GatewaySubscription
{
    private readonly Lock _gate = new();
    private readonly byte[] _head;
    // The filter's lists as sets, built once: Matches runs for every event and every subscriber.
    private readonly HashSet<string>? _machineIds, _jobTypes, _eventTypes;
    private List<StreamEvent>? _held = [];
    private bool _ended;

    public GatewaySubscription(GatewayConnection connection, string id, string topic, EventFilter filter, bool seedStyle)
    {
        Connection = connection;
        Id = id;
        Topic = topic;
        Filter = filter;
        SeedStyle = seedStyle;
        _machineIds = SetOf(filter.MachineIds);
        _jobTypes = SetOf(filter.JobTypes);
        _eventTypes = SetOf(filter.EventTypes);
        _head = Encoding.UTF8.GetBytes($$"""{"v":1,"type":"event","subscription":{{JsonSerializer.Serialize(id)}},"topic":{{JsonSerializer.Serialize(topic)}},""");
    }

    public GatewayConnection Connection { get; }
    public string Id { get; }
    public string Topic { get; }
    public EventFilter Filter { get; }
    /// <summary>Speaks seed 001's flat job messages instead of event frames.</summary>
    public bool SeedStyle { get; }
    /// <summary>The id of the last event queued for the client: where it resumes after a reconnect or a lag.</summary>
    public string? LastEventId { get; private set; }

    /// <summary>Raised (once) when the client fell too far behind; the subscription is over.</summary>
    public event Action<GatewaySubscription>? Lagged;

    public bool Matches(StreamEvent e)
    {
        var f = Filter;
        return (f.JobId is null || e["job_id"] == f.JobId)
            && (f.WorkflowId is null || e["workflow_id"] == f.WorkflowId)
            && (_machineIds is null || (e["machine_id"] is { } m && _machineIds.Contains(m)))
            && (_jobTypes is null || (e["job_type"] is { } t && _jobTypes.Contains(t)))
            && (_eventTypes is null || _eventTypes.Contains(e.Type));
    }

    private static HashSet<string>? SetOf(IEnumerable<string>? values) => values is null ? null : new(values, StringComparer.Ordinal);

    /// <summary>An event from the live feed; <paramref name="tail"/> is the event serialized once for all subscribers.</summary>
    public void OnLive(StreamEvent e, Func<byte[]> tail)
    {
        lock (_gate)
        {
            if (_ended) return;
            if (_held is not null)
            {
                _held.Add(e);
                return;
            }
            Deliver(e, tail);
        }
    }

    /// <summary>An event read back from the stream during replay, already matched against the filter.</summary>
    public void OnReplayed(StreamEvent e)
    {
        lock (_gate)
        {
            if (!_ended) Deliver(e, () => SerializeTail(e));
        }
    }

    /// <summary>
    /// Goes live: delivers the held events newer than <paramref name="lastReplayedId"/> (all of them when nothing was
    /// replayed), then every live event as it comes.
    /// </summary>
    public void Release(string? lastReplayedId)
    {
        lock (_gate)
        {
            var held = _held;
            _held = null;
            if (held is null || _ended) return;
            foreach (var e in held)
                if (lastReplayedId is null || StreamIds.Compare(e.Id, lastReplayedId) > 0)
                    Deliver(e, () => SerializeTail(e));
        }
    }

    public void End()
    {
        lock (_gate) _ended = true;
    }

    private void Deliver(StreamEvent e, Func<byte[]> tail)
    {
        var queued = SeedStyle ? DeliverSeedStyle(e) : Connection.TryQueueEvent(_head, tail());
        if (queued is null) return;
        if (queued.Value)
        {
            LastEventId = e.Id;
            return;
        }
        _ended = true;
        Lagged?.Invoke(this);
    }

    private bool? DeliverSeedStyle(StreamEvent e)
    {
        var type = e.Type switch
        {
            "job_assigned" or "job_progress" or "job_completed" or "job_failed" or "job_cancelled" => e.Type,
            _ => null,
        };
        if (type is null) return null;
        var json = EventJson.ToJson(e.Fields);
        var frame = new SeedJobFrame
        {
            Type = type, JobId = e["job_id"] ?? "", Status = e["status"], WorkerId = e["worker_id"], EventId = e.Id,
            Progress = double.TryParse(e["progress"], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var p) ? p : null,
            Message = e["message"], Result = json["result"]?.DeepClone(), Error = json["error"]?.DeepClone(),
        };
        return Connection.TryQueueEvent(JsonSerializer.SerializeToUtf8Bytes(frame, ClusterJson.Options), null);
    }

    /// <summary><c>"event_id":"…","event":{…}}</c>: the part of an event frame every subscriber shares.</summary>
    public static byte[] SerializeTail(StreamEvent e) =>
        Encoding.UTF8.GetBytes("\"event_id\":" + JsonSerializer.Serialize(e.Id) + ",\"event\":" + EventJson.ToJson(e.Fields).ToJsonString() + "}");
}
