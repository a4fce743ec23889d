namespace Cluster.Grains.Modules.Osc;

/// <summary>An OSC 1.0 packet: a message or a bundle (<see href="https://opensoundcontrol.stanford.edu/spec-1_0.html"/>).</summary>
public abstract record OscPacket;

/// <summary>
/// An OSC message. Each argument's .NET type is its type tag: <c>int</c> i, <c>float</c> f, <c>string</c> s,
/// <c>byte[]</c> b, <c>bool</c> T or F, <c>null</c> N, and <see cref="OscInfinitum.Value"/> I.
/// </summary>
public sealed record OscMessage(string Address, IReadOnlyList<object?> Arguments) : OscPacket
{
    public OscMessage(string address, params object?[] arguments) : this(address, (IReadOnlyList<object?>)arguments) { }

    /// <summary>The type tags of the arguments, without the leading comma.</summary>
    public string TypeTags => string.Concat(Arguments.Select(OscCodec.TagOf));

    public bool Equals(OscMessage? other) =>
        other is not null && Address == other.Address && Arguments.Count == other.Arguments.Count
        && Arguments.Zip(other.Arguments).All(p => p.First is byte[] a && p.Second is byte[] b ? a.AsSpan().SequenceEqual(b) : Equals(p.First, p.Second));

    public override int GetHashCode() => HashCode.Combine(Address, Arguments.Count);

    public override string ToString() => $"{Address} {TypeTags} [{string.Join(", ", Arguments.Select(a => a switch { null => "nil", byte[] b => $"{b.Length} bytes", _ => a }))}]";
}

/// <summary>An OSC bundle: a time tag (NTP format; 1 means "at once") and the packets to apply at that time.</summary>
public sealed record OscBundle(ulong TimeTag, IReadOnlyList<OscPacket> Elements) : OscPacket
{
    /// <summary>The time tag that asks for "at once".</summary>
    public const ulong Immediately = 1;

    public bool Equals(OscBundle? other) => other is not null && TimeTag == other.TimeTag && Elements.SequenceEqual(other.Elements);

    public override int GetHashCode() => HashCode.Combine(TimeTag, Elements.Count);
}

/// <summary>The argument of type tag I ("infinitum", an impulse), which carries no data.</summary>
public sealed class OscInfinitum
{
    public static readonly OscInfinitum Value = new();

    private OscInfinitum() { }

    public override string ToString() => "infinitum";
}
