namespace Cluster.Grains.Redis;

/// <summary>The entries XREAD or XREADGROUP returned from one stream.</summary>
public sealed record StreamBatch(string Stream, IReadOnlyList<StreamEntry> Entries);
