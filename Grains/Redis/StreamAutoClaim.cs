namespace Cluster.Grains.Redis;

/// <summary>
/// What XAUTOCLAIM returned: the entries now owned by the caller, the id to continue scanning from
/// ("0-0" once the whole pending list was scanned), and ids that were pending but no longer exist.
/// </summary>
public sealed record StreamAutoClaim(string NextStartId, IReadOnlyList<StreamEntry> Claimed, IReadOnlyList<string> DeletedIds);
