using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Cluster.Grains.Redis;

/// <summary>
/// Parses RESP2 and RESP3 replies from a byte sequence that may end anywhere, even mid-reply.
/// </summary>
public static class RespParser
{
    /// <summary>Largest bulk string or aggregate the parser accepts (Redis's own proto-max-bulk-len).</summary>
    public const int MaxBulkLength = 512 * 1024 * 1024;

    private const int MaxDepth = 64;

    /// <summary>
    /// Reads one whole reply. Returns false, consuming nothing, when the buffer ends before the reply does.
    /// Throws <see cref="RedisProtocolException"/> for bytes that are not RESP.
    /// </summary>
    public static bool TryParse(ref ReadOnlySequence<byte> buffer, out RespValue value)
    {
        var reader = new SequenceReader<byte>(buffer);
        if (!TryRead(ref reader, 0, out var parsed))
        {
            value = RespValue.Null;
            return false;
        }
        value = parsed!;
        buffer = buffer.Slice(reader.Position);
        return true;
    }

    /// <summary>
    /// Whether the buffer holds at least one whole reply, found without building it. A reply of many small
    /// items that arrives over many reads is checked this way first, so it is built once rather than once per read.
    /// </summary>
    public static bool HasWholeReply(ReadOnlySequence<byte> buffer)
    {
        var reader = new SequenceReader<byte>(buffer);
        return TrySkip(ref reader, 0);
    }

    private static bool TryRead(ref SequenceReader<byte> reader, int depth, out RespValue? value)
    {
        value = null;
        if (!reader.TryRead(out var prefix)) return false;
        switch (prefix)
        {
            case (byte)'+':
                if (reader.IsNext("OK\r\n"u8, advancePast: true)) return Set(RespValue.Ok, out value);
                return TryReadLine(ref reader, out var s) && Set(RespValue.SimpleString(s), out value);
            case (byte)'-': return TryReadLine(ref reader, out var e) && Set(RespValue.Error(e), out value);
            case (byte)'(': return TryReadLine(ref reader, out var big) && Set(RespValue.BigNumber(big), out value);
            case (byte)':':
                return TryReadInteger(ref reader, out var integer) && Set(RespValue.FromInteger(integer), out value);
            case (byte)',':
                return TryReadLine(ref reader, out var d) && Set(RespValue.FromDouble(ParseDouble(d)), out value);
            case (byte)'#':
                return TryReadLine(ref reader, out var b) && Set(RespValue.FromBoolean(ParseBoolean(b)), out value);
            case (byte)'_': return TryReadLine(ref reader, out _) && Set(RespValue.Null, out value);
            case (byte)'$': return TryReadBulk(ref reader, RespKind.BulkString, out value);
            case (byte)'=': return TryReadBulk(ref reader, RespKind.VerbatimString, out value);
            case (byte)'!':
                if (!TryReadBulk(ref reader, RespKind.BulkString, out var blob)) return false;
                return Set(RespValue.Error(blob!.ToString()), out value);
            case (byte)'*': return TryReadAggregate(ref reader, RespKind.Array, 1, depth, out value);
            case (byte)'~': return TryReadAggregate(ref reader, RespKind.Set, 1, depth, out value);
            case (byte)'>': return TryReadAggregate(ref reader, RespKind.Push, 1, depth, out value);
            case (byte)'%': return TryReadAggregate(ref reader, RespKind.Map, 2, depth, out value);
            case (byte)'|':
                // An attribute annotates the reply that follows it; callers want the reply.
                return TryReadAggregate(ref reader, RespKind.Attribute, 2, depth, out _) && TryRead(ref reader, depth, out value);
            default:
                throw new RedisProtocolException($"Unexpected RESP type byte 0x{prefix:X2}");
        }
    }

    private static bool TrySkip(ref SequenceReader<byte> reader, int depth)
    {
        if (!reader.TryRead(out var prefix)) return false;
        switch (prefix)
        {
            case (byte)'+' or (byte)'-' or (byte)'(' or (byte)':' or (byte)',' or (byte)'#' or (byte)'_':
                return reader.TryAdvanceTo((byte)'\n');
            case (byte)'$' or (byte)'=' or (byte)'!':
                if (!TryReadInteger(ref reader, out var length)) return false;
                if (length < 0) return true;
                if (reader.Remaining < length + 2) return false;
                reader.Advance(length + 2);
                return true;
            case (byte)'*' or (byte)'~' or (byte)'>' or (byte)'%' or (byte)'|':
                if (!TryReadInteger(ref reader, out var count)) return false;
                if (depth >= MaxDepth) throw new RedisProtocolException($"Replies nested deeper than {MaxDepth} levels");
                var items = prefix is (byte)'%' or (byte)'|' ? count * 2 : count;
                for (long i = 0; i < items; i++)
                    if (!TrySkip(ref reader, depth + 1)) return false;
                return prefix != (byte)'|' || TrySkip(ref reader, depth);
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
        if (kind == RespKind.VerbatimString)
        {
            // "txt:" or "mkd:" tells the format; callers want the text.
            if (bytes.Length < 4 || bytes[3] != (byte)':') throw new RedisProtocolException("Verbatim string without a format tag");
            bytes = bytes[4..];
        }
        return Set(RespValue.Bulk(bytes, kind), out value);
    }

    private static bool TryReadAggregate(ref SequenceReader<byte> reader, RespKind kind, int perEntry, int depth, out RespValue? value)
    {
        value = null;
        if (!TryReadInteger(ref reader, out var count)) return false;
        if (count < 0) return Set(RespValue.Null, out value);
        if (count > MaxBulkLength / perEntry) throw new RedisProtocolException($"Aggregate length {count} is too large");
        if (depth >= MaxDepth) throw new RedisProtocolException($"Replies nested deeper than {MaxDepth} levels");
        // Each item takes at least 3 bytes, so a count the buffer cannot hold yet allocates nothing.
        if (reader.Remaining < count * perEntry * 3) return false;
        var items = count == 0 ? [] : new RespValue[count * perEntry];
        for (var i = 0; i < items.Length; i++)
        {
            if (!TryRead(ref reader, depth + 1, out var item)) return false;
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

    private static bool ParseBoolean(string text) => text switch
    {
        "t" => true,
        "f" => false,
        _ => throw new RedisProtocolException($"Malformed boolean '{text}'"),
    };

    private static double ParseDouble(string text) => text switch
    {
        "inf" => double.PositiveInfinity,
        "-inf" => double.NegativeInfinity,
        "nan" or "-nan" => double.NaN,
        _ => double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var d)
            ? d
            : throw new RedisProtocolException($"Malformed double '{text}'"),
    };
}
