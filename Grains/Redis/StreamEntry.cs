namespace Cluster.Grains.Redis;

/// <summary>One entry of a Redis stream. <see cref="Fields"/> is empty for an entry deleted while it was pending.</summary>
public sealed record StreamEntry(string Id, IReadOnlyDictionary<string, RespValue> Fields)
{
    internal static StreamEntry From(RespValue entry)
    {
        var items = entry.Items;
        var fields = items.Count > 1 && !items[1].IsNull ? items[1].ToDictionary() : Empty;
        return new StreamEntry(items[0].ToString(), fields);
    }

    internal static IReadOnlyList<StreamEntry> ListFrom(RespValue entries) =>
        entries.IsNull ? [] : entries.Items.Select(From).ToArray();

    private static readonly Dictionary<string, RespValue> Empty = [];
}
