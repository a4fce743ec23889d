namespace Cluster.Grains.Interfaces.Streams;

/// <summary>
/// An event of a topic (<c>jobs</c>, <c>workers</c>, …) in the shape the gateway protocol, webhooks and job
/// histories have always shown: a type and flat text fields (<c>job_id</c>, <c>status</c>, <c>result</c> as JSON
/// text …). Its public id is the Redis stream id it was stored under.
/// </summary>
[GenerateSerializer, Immutable, Alias("Cluster.TopicEvent")]
public sealed record TopicEvent([property: Id(0)] string Type, [property: Id(1)] IReadOnlyDictionary<string, string> Fields);
