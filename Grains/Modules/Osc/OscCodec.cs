using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Cluster.Grains.Modules.Osc;

/// <summary>
/// OSC 1.0 on the wire: big-endian numbers, strings and blobs padded with zeros to 4-byte boundaries, a message as
/// address, type tag string and arguments, a bundle as <c>#bundle</c>, a time tag and size-prefixed elements. Decoding
/// never throws on bad input: a driver receiving a malformed packet counts it and goes on.
/// </summary>
public static class OscCodec
{
    /// <summary>A UDP datagram's payload can be no larger.</summary>
    public const int MaxPacketBytes = 65_507;

    // Bundles within bundles past this depth are refused, so that a crafted packet cannot exhaust the stack.
    private const int MaxBundleDepth = 8;
    private static readonly byte[] BundleHeader = "#bundle\0"u8.ToArray();

    public static char TagOf(object? argument) => argument switch
    {
        int => 'i',
        float => 'f',
        string => 's',
        byte[] => 'b',
        true => 'T',
        false => 'F',
        null => 'N',
        OscInfinitum => 'I',
        _ => throw new ArgumentException($"OSC has no type for a {argument.GetType().Name} argument; use int, float, string, byte[], bool, null or OscInfinitum.Value", nameof(argument)),
    };

    public static byte[] Encode(OscPacket packet)
    {
        ArgumentNullException.ThrowIfNull(packet);
        using var stream = new MemoryStream();
        Write(stream, packet);
        if (stream.Length > MaxPacketBytes) throw new ArgumentException($"The packet is {stream.Length} bytes, more than a UDP datagram holds ({MaxPacketBytes})", nameof(packet));
        return stream.ToArray();
    }

    /// <summary>Reads the packet that <paramref name="data"/> holds, all of it; false with the reason when it is not valid OSC 1.0.</summary>
    public static bool TryDecode(ReadOnlySpan<byte> data, [NotNullWhen(true)] out OscPacket? packet, [NotNullWhen(false)] out string? error)
    {
        var reader = new Reader(data);
        packet = reader.Packet(data.Length, 0);
        error = reader.Error;
        return packet is not null;
    }

    private static void Write(MemoryStream stream, OscPacket packet)
    {
        switch (packet)
        {
            case OscMessage message:
                if (!message.Address.StartsWith('/')) throw new ArgumentException($"An OSC address starts with '/': \"{message.Address}\"", nameof(packet));
                WriteString(stream, message.Address);
                WriteString(stream, "," + message.TypeTags);
                foreach (var argument in message.Arguments) WriteArgument(stream, argument);
                break;
            case OscBundle bundle:
                stream.Write(BundleHeader);
                WriteUInt64(stream, bundle.TimeTag);
                foreach (var element in bundle.Elements)
                {
                    var sizeAt = stream.Position;
                    WriteInt32(stream, 0);
                    Write(stream, element);
                    var end = stream.Position;
                    stream.Position = sizeAt;
                    WriteInt32(stream, (int)(end - sizeAt - 4));
                    stream.Position = end;
                }
                break;
        }
    }

    private static void WriteArgument(MemoryStream stream, object? argument)
    {
        switch (argument)
        {
            case int i: WriteInt32(stream, i); break;
            case float f: WriteInt32(stream, BitConverter.SingleToInt32Bits(f)); break;
            case string s: WriteString(stream, s); break;
            case byte[] b:
                WriteInt32(stream, b.Length);
                stream.Write(b);
                Pad(stream, b.Length);
                break;
        }
    }

    private static void WriteString(MemoryStream stream, string text)
    {
        if (text.Contains('\0', StringComparison.Ordinal)) throw new ArgumentException("An OSC string cannot hold a NUL character", nameof(text));
        var bytes = Encoding.UTF8.GetBytes(text);
        stream.Write(bytes);
        // At least one NUL ends the string, then more up to the next multiple of 4.
        stream.WriteByte(0);
        Pad(stream, bytes.Length + 1);
    }

    private static void Pad(MemoryStream stream, int written)
    {
        for (var i = written; i % 4 != 0; i++) stream.WriteByte(0);
    }

    private static void WriteInt32(MemoryStream stream, int value)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(bytes, value);
        stream.Write(bytes);
    }

    private static void WriteUInt64(MemoryStream stream, ulong value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(bytes, value);
        stream.Write(bytes);
    }

    /// <summary>A cursor over the packet; the first problem found stops it and is kept in <see cref="Error"/>.</summary>
    private ref struct Reader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;

        public int Position { get; private set; }

        public string? Error { get; private set; }

        public OscPacket? Packet(int end, int depth)
        {
            if (end - Position < 4 || (end - Position) % 4 != 0) return Fail<OscPacket>($"an OSC packet is a positive multiple of 4 bytes, not {end - Position}");
            if (_data[Position] == (byte)'#') return Bundle(end, depth);
            if (_data[Position] != (byte)'/') return Fail<OscPacket>("a packet starts with '/' (a message) or '#bundle'");
            return Message(end);
        }

        private OscPacket? Bundle(int end, int depth)
        {
            if (depth >= MaxBundleDepth) return Fail<OscPacket>($"bundles nested deeper than {MaxBundleDepth}");
            if (end - Position < 16 || !_data.Slice(Position, 8).SequenceEqual(BundleHeader)) return Fail<OscPacket>("a bundle starts with '#bundle' and a time tag");
            var timeTag = BinaryPrimitives.ReadUInt64BigEndian(_data.Slice(Position + 8, 8));
            Position += 16;
            var elements = new List<OscPacket>();
            while (Position < end)
            {
                if (end - Position < 4) return Fail<OscPacket>("a bundle element's size is cut short");
                var size = BinaryPrimitives.ReadInt32BigEndian(_data.Slice(Position, 4));
                Position += 4;
                if (size <= 0 || size > end - Position) return Fail<OscPacket>($"a bundle element of {size} bytes does not fit the bundle");
                if (Packet(Position + size, depth + 1) is not { } element) return null;
                elements.Add(element);
            }
            return new OscBundle(timeTag, elements);
        }

        private OscPacket? Message(int end)
        {
            if (String(end) is not { } address) return null;
            if (Position == end) return new OscMessage(address, []); // OSC 1.0 lets old senders leave out the type tags
            if (String(end) is not { } tags) return null;
            if (tags.Length == 0 || tags[0] != ',') return Fail<OscPacket>("the type tag string starts with ','");
            var arguments = new object?[tags.Length - 1];
            for (var i = 1; i < tags.Length; i++)
            {
                switch (tags[i])
                {
                    case 'i':
                        if (Int32(end) is not { } n) return null;
                        arguments[i - 1] = n;
                        break;
                    case 'f':
                        if (Int32(end) is not { } bits) return null;
                        arguments[i - 1] = BitConverter.Int32BitsToSingle(bits);
                        break;
                    case 's':
                        if (String(end) is not { } s) return null;
                        arguments[i - 1] = s;
                        break;
                    case 'b':
                        if (Blob(end) is not { } b) return null;
                        arguments[i - 1] = b;
                        break;
                    case 'T': arguments[i - 1] = true; break;
                    case 'F': arguments[i - 1] = false; break;
                    case 'N': arguments[i - 1] = null; break;
                    case 'I': arguments[i - 1] = OscInfinitum.Value; break;
                    default: return Fail<OscPacket>($"type tag '{tags[i]}' is not one this driver reads (i f s b T F N I)");
                }
            }
            return Position == end ? new OscMessage(address, arguments) : Fail<OscPacket>($"{end - Position} bytes follow the message's arguments");
        }

        private int? Int32(int end)
        {
            if (end - Position < 4)
            {
                Error ??= "an argument is cut short";
                return null;
            }
            var value = BinaryPrimitives.ReadInt32BigEndian(_data.Slice(Position, 4));
            Position += 4;
            return value;
        }

        private string? String(int end)
        {
            var length = _data[Position..end].IndexOf((byte)0);
            if (length < 0) return Fail<string>("a string has no terminating NUL");
            var padded = (length + 4) & ~3;
            if (padded > end - Position) return Fail<string>("a string's padding is cut short");
            var text = Encoding.UTF8.GetString(_data.Slice(Position, length));
            Position += padded;
            return text;
        }

        private byte[]? Blob(int end)
        {
            if (Int32(end) is not { } size) return null;
            var padded = (size + 3) & ~3;
            if (size < 0 || padded > end - Position) return Fail<byte[]>($"a blob of {size} bytes does not fit the message");
            var blob = _data.Slice(Position, size).ToArray();
            Position += padded;
            return blob;
        }

        private T? Fail<T>(string problem) where T : class
        {
            Error ??= problem;
            return null;
        }
    }
}
