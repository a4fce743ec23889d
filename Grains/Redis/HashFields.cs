using System.Globalization;

namespace Cluster.Grains.Redis;

/// <summary>
/// The fields of a grain's hash (HGETALL) with one rule for every reader: a field that is missing, null or
/// empty has no value. Hashes written by seed-era code may lack any field, so nothing here throws.
/// </summary>
public readonly struct HashFields(IReadOnlyDictionary<string, RespValue> fields)
{
    public static HashFields Of(RespValue reply) => new(reply.ToDictionary());

    public string? Text(string name) =>
        fields.TryGetValue(name, out var v) && !v.IsNull && v.ToString().Length > 0 ? v.ToString() : null;

    /// <summary>The field as a number, 0 when it has none or is not one.</summary>
    public double Number(string name) =>
        double.TryParse(Text(name), NumberStyles.Float, CultureInfo.InvariantCulture, out var n) ? n : 0;

    /// <summary>The field as a whole number, null when it has none or is not one.</summary>
    public int? Int(string name) =>
        int.TryParse(Text(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : null;
}
