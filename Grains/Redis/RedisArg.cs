using System.Buffers;
using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace Cluster.Grains.Redis;

/// <summary>One argument of a command: text, bytes or a number, encoded without intermediate strings.</summary>
public readonly struct RedisArg
{
    private readonly string? _text;
    private readonly ReadOnlyMemory<byte> _bytes;
    private readonly long _integer; // a double's bits when _kind is 3
    private readonly byte _kind; // 0 text, 1 bytes, 2 integer, 3 double

    private RedisArg(string? text, ReadOnlyMemory<byte> bytes, long integer, double dbl, byte kind)
    {
        _text = text;
        _bytes = bytes;
        _integer = kind == 3 ? BitConverter.DoubleToInt64Bits(dbl) : integer;
        _kind = kind;
    }

    private double Double => BitConverter.Int64BitsToDouble(_integer);

    public static implicit operator RedisArg(string text) => new(text ?? "", default, 0, 0, 0);
    public static implicit operator RedisArg(byte[] bytes) => new(null, bytes, 0, 0, 1);
    public static implicit operator RedisArg(ReadOnlyMemory<byte> bytes) => new(null, bytes, 0, 0, 1);
    public static implicit operator RedisArg(long value) => new(null, default, value, 0, 2);
    public static implicit operator RedisArg(int value) => new(null, default, value, 0, 2);
    public static implicit operator RedisArg(double value) => new(null, default, 0, value, 3);

    internal void WriteTo(IBufferWriter<byte> writer)
    {
        switch (_kind)
        {
            case 0:
                var text = _text ?? ""; // default(RedisArg): an empty string, never an exception halfway through a command
                var length = Encoding.UTF8.GetByteCount(text);
                WriteHeader(writer, (byte)'$', length);
                var span = writer.GetSpan(length + 2);
                Encoding.UTF8.GetBytes(text, span);
                "\r\n"u8.CopyTo(span[length..]);
                writer.Advance(length + 2);
                break;
            case 1:
                WriteHeader(writer, (byte)'$', _bytes.Length);
                writer.Write(_bytes.Span);
                writer.Write("\r\n"u8);
                break;
            case 2:
                Span<byte> digits = stackalloc byte[24];
                Utf8Formatter.TryFormat(_integer, digits, out var n);
                WriteHeader(writer, (byte)'$', n);
                writer.Write(digits[..n]);
                writer.Write("\r\n"u8);
                break;
            default:
                var number = double.IsPositiveInfinity(Double) ? "+inf"
                    : double.IsNegativeInfinity(Double) ? "-inf"
                    : Double.ToString("R", CultureInfo.InvariantCulture);
                ((RedisArg)number).WriteTo(writer);
                break;
        }
    }

    /// <summary>Command names are short ASCII: written byte by byte, without the UTF-8 encoder's setup.</summary>
    internal static void WriteCommandName(IBufferWriter<byte> writer, string command)
    {
        if (command.Length > 64 || !Ascii.IsValid(command))
        {
            ((RedisArg)command).WriteTo(writer);
            return;
        }
        var span = writer.GetSpan(command.Length + 8);
        span[0] = (byte)'$';
        Utf8Formatter.TryFormat(command.Length, span[1..], out var n);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        var at = n + 3;
        for (var i = 0; i < command.Length; i++) span[at + i] = (byte)command[i];
        at += command.Length;
        span[at] = (byte)'\r';
        span[at + 1] = (byte)'\n';
        writer.Advance(at + 2);
    }

    internal static void WriteHeader(IBufferWriter<byte> writer, byte prefix, long count)
    {
        var span = writer.GetSpan(24);
        span[0] = prefix;
        Utf8Formatter.TryFormat(count, span[1..], out var n);
        span[n + 1] = (byte)'\r';
        span[n + 2] = (byte)'\n';
        writer.Advance(n + 3);
    }

    public override string ToString() => _kind switch
    {
        0 => _text ?? "",
        1 => Encoding.UTF8.GetString(_bytes.Span),
        2 => _integer.ToString(CultureInfo.InvariantCulture),
        _ => Double.ToString("R", CultureInfo.InvariantCulture),
    };
}
