using System.Buffers;
using System.Buffers.Text;
using System.Text;

namespace Cluster.Grains.Redis;

/// <summary>
/// Parses RESP2 and RESP3 replies from a byte sequence that may end anywhere, even mid-reply.
/// </summary>
public static class RespParser
{
    /// <summary>Largest bulk string or aggregate the parser accepts (Redis's own proto-max-bulk-len).</summary>
    public const int MaxBulkLength = 512 * 1024 * 1024;

    /// <summary>
    /// Reads one whole reply. Returns false, consuming nothing, when the buffer ends before the reply does.
    /// </summary>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, out RespValue value)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryRead(ref reader, out value!)) return false;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    private static bool TryRead(ref SequenceReader<byte> reader, out RespValue? value)
    {
        value = null;
        if (!reader.TryRead(out var prefix)) return false;
        switch (prefix)
        {
            case (byte)'+': return TryReadLine(ref reader, out var s) && Set(RespValue.SimpleString(s), out value);
            case (byte)'-': return TryReadLine(ref reader, out var e) && Set(RespValue.Error(e), out value);
            case (byte)'(': return TryReadLine(ref reader, out var big) && Set(RespValue.BigNumber(big), out value);
            case (byte)':':
                return TryReadInteger(ref reader, out var integer) && Set(RespValue.FromInteger(integer), out value);
            case (byte)',':
                return TryReadLine(ref reader, out var d) && Set(RespValue.FromDouble(ParseDouble(d)), out value);
            case (byte)'#':
                return TryReadLine(ref reader, out var b) && Set(RespValue.FromBoolean(b == "t"), out value);
            case (byte)'_': return TryReadLine(ref reader, out _) && Set(RespValue.Null, out value);
            case (byte)'$': return TryReadBulk(ref reader, RespKind.BulkString, out value);
            case (byte)'=': return TryReadBulk(ref reader, RespKind.VerbatimString, out value);
            case (byte)'!':
                if (!TryReadBulk(ref reader, RespKind.BulkString, out var blob)) return false;
                return Set(RespValue.Error(blob!.ToString()), out value);
            case (byte)'*': return TryReadAggregate(ref reader, RespKind.Array, 1, out value);
            case (byte)'~': return TryReadAggregate(ref reader, RespKind.Set, 1, out value);
            case (byte)'>': return TryReadAggregate(ref reader, RespKind.Push, 1, out value);
            case (byte)'%': return TryReadAggregate(ref reader, RespKind.Map, 2, out value);
            case (byte)'|':
                // An attribute annotates the reply that follows it; callers want the reply.
                return TryReadAggregate(ref reader, RespKind.Attribute, 2, out _) && TryRead(ref reader, out value);
            default:
                throw new RedisProtocolException($"Unexpected RESP type byte 0x{prefix:X2}");
        }
    }

    private static bool Set(RespValue v, out RespValue? value)
    {
        value = v;
        return true;
    }

    private static bool TryReadBulk(ref SequenceReader<byte> reader, RespKind kind, out RespValue? value)
    {
        value = null;
        if (!TryReadInteger(ref reader, out var length)) return false;
        if (length < 0) return Set(RespValue.Null, out value);
        if (length > MaxBulkLength) throw new RedisProtocolException($"Bulk length {length} is too large");
        if (reader.Remaining < length + 2) return false;
        var bytes = GC.AllocateUninitializedArray<byte>((int)length);
        reader.TryCopyTo(bytes);
        reader.Advance(length);
        if (!reader.IsNext("\r\n"u8, advancePast: true)) throw new RedisProtocolException("Bulk string not terminated by CRLF");
        if (kind == RespKind.VerbatimString && bytes.Length >= 4) bytes = bytes[4..]; // drop the "txt:" format tag
        return Set(RespValue.Bulk(bytes, kind == RespKind.VerbatimString ? RespKind.VerbatimString : RespKind.BulkString), out value);
    }

    private static bool TryReadAggregate(ref SequenceReader<byte> reader, RespKind kind, int perEntry, out RespValue? value)
    {
        value = null;
        if (!TryReadInteger(ref reader, out var count)) return false;
        if (count < 0) return Set(RespValue.Null, out value);
        if (count > MaxBulkLength / perEntry) throw new RedisProtocolException($"Aggregate length {count} is too large");
        var items = count == 0 ? [] : new RespValue[count * perEntry];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryRead(ref reader, out var item)) return false;
            items[i] = item!;
        }
        return Set(RespValue.Aggregate(kind, items), out value);
    }

    private static bool TryReadLine(ref SequenceReader<byte> reader, out string line)
    {
        line = "";
        if (!reader.TryReadTo(out ReadOnlySequence<byte> bytes, "\r\n"u8)) return false;
        line = Encoding.UTF8.GetString(bytes);
        return true;
    }

    private static bool TryReadInteger(ref SequenceReader<byte> reader, out long value)
    {
        value = 0;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> bytes, "\r\n"u8)) return false;
        Span<byte> digits = stackalloc byte[24];
        if (bytes.Length > digits.Length) throw new RedisProtocolException("Integer line too long");
        bytes.CopyTo(digits);
        digits = digits[..(int)bytes.Length];
        if (!Utf8Parser.TryParse(digits, out value, out var used) || used != digits.Length)
            throw new RedisProtocolException($"Malformed integer '{Encoding.ASCII.GetString(digits)}'");
        return true;
    }

    private static double ParseDouble(string text) => text switch
    {
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" => double.NaN,
        _ => double.Parse(text, System.Globalization.CultureInfo.InvariantCulture),
    };
}
