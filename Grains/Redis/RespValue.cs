using System.Globalization;
using System.Text;

namespace Cluster.Grains.Redis;

/// <summary>The kinds of reply RESP2 and RESP3 can carry.</summary>
public enum RespKind : byte
{
    SimpleString, Error, Integer, BulkString, Array, Null,
    Double, Boolean, BigNumber, VerbatimString, Map, Set, Push, Attribute,
}

/// <summary>One reply from Redis. Bulk payloads stay as bytes until a caller asks for text.</summary>
public sealed class RespValue
{
    public static readonly RespValue Null = new(RespKind.Null);
    public static readonly RespValue Ok = new(RespKind.SimpleString) { _text = "OK" };
    public static readonly RespValue EmptyArray = new(RespKind.Array) { _items = [] };

    private byte[]? _bytes;
    private string? _text;
    private long _integer;
    private double _double;
    private RespValue[]? _items;

    private RespValue(RespKind kind) => Kind = kind;

    public RespKind Kind { get; }
    public bool IsNull => Kind == RespKind.Null;
    public bool IsError => Kind == RespKind.Error;

    /// <summary>Array, set, push and map elements (a map as key, value, key, value…).</summary>
    public IReadOnlyList<RespValue> Items => _items ?? throw WrongKind("an aggregate");

    public ReadOnlyMemory<byte> Bytes => Kind switch
    {
        RespKind.BulkString or RespKind.VerbatimString => _bytes,
        RespKind.Null => ReadOnlyMemory<byte>.Empty,
        _ => Encoding.UTF8.GetBytes(ToString()),
    };

    public long Integer => Kind switch
    {
        RespKind.Integer or RespKind.Boolean => _integer,
        RespKind.Double => (long)_double,
        RespKind.SimpleString or RespKind.BulkString or RespKind.BigNumber =>
            long.Parse(ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture),
        _ => throw WrongKind("an integer"),
    };

    public double Double => Kind switch
    {
        RespKind.Double => _double,
        RespKind.Integer => _integer,
        RespKind.SimpleString or RespKind.BulkString =>
            double.Parse(ToString(), NumberStyles.Float, CultureInfo.InvariantCulture),
        _ => throw WrongKind("a number"),
    };

    public bool Boolean => Kind == RespKind.Boolean ? _integer != 0 : Integer != 0;

    /// <summary>The reply as text; null for a null reply.</summary>
    public string? AsString() => IsNull ? null : ToString();

    public override string ToString() => Kind switch
    {
        RespKind.Null => "",
        RespKind.BulkString or RespKind.VerbatimString => _text ??= Encoding.UTF8.GetString(_bytes!),
        RespKind.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        RespKind.Boolean => _integer != 0 ? "true" : "false",
        RespKind.Double => _double.ToString("R", CultureInfo.InvariantCulture),
        RespKind.Array or RespKind.Set or RespKind.Push or RespKind.Map or RespKind.Attribute =>
            "[" + string.Join(", ", _items!.Select(i => i.ToString())) + "]",
        _ => _text!,
    };

    /// <summary>A map reply (or a flat key/value array, as RESP2 sends HGETALL) as a dictionary.</summary>
    public Dictionary<string, RespValue> ToDictionary()
    {
        var items = Items;
        var map = new Dictionary<string, RespValue>(items.Count / 2, StringComparer.Ordinal);
        for (var i = 0; i + 1 < items.Count; i += 2) map[items[i].ToString()] = items[i + 1];
        return map;
    }

    internal static RespValue SimpleString(string text) =>
        text == "OK" ? Ok : new RespValue(RespKind.SimpleString) { _text = text };
    internal static RespValue Error(string text) => new(RespKind.Error) { _text = text };
    internal static RespValue FromInteger(long value) => new(RespKind.Integer) { _integer = value };
    internal static RespValue FromDouble(double value) => new(RespKind.Double) { _double = value };
    internal static RespValue FromBoolean(bool value) => new(RespKind.Boolean) { _integer = value ? 1 : 0 };
    internal static RespValue BigNumber(string digits) => new(RespKind.BigNumber) { _text = digits };
    internal static RespValue Bulk(byte[] bytes, RespKind kind = RespKind.BulkString) => new(kind) { _bytes = bytes };
    internal static RespValue Aggregate(RespKind kind, RespValue[] items) =>
        kind == RespKind.Array && items.Length == 0 ? EmptyArray : new RespValue(kind) { _items = items };

    private InvalidOperationException WrongKind(string wanted) =>
        new($"Redis replied with {Kind}, not {wanted}: {this}");
}
