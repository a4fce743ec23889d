using System.Buffers;
using System.Text;
using Cluster.Grains.Redis;

namespace Cluster.UnitTests.Redis;

public sealed class RespParserTests
{
    private static readonly byte[] Kilobyte = Enumerable.Range(0, 1024).Select(i => (byte)(i * 7)).ToArray();

    /// <summary>Every reply type of RESP2 and RESP3, nested aggregates and a 1 KiB bulk string, back to back.</summary>
    private static byte[] EveryReplyType()
    {
        var text = new StringBuilder()
            .Append("+OK\r\n")
            .Append("+PONG\r\n")
            .Append("-WRONGTYPE Operation against a key holding the wrong kind of value\r\n")
            .Append(":0\r\n:-9223372036854775808\r\n:9223372036854775807\r\n")
            .Append("$5\r\nhello\r\n$0\r\n\r\n$-1\r\n*-1\r\n_\r\n")
            .Append("*0\r\n")
            .Append("*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n*0\r\n$3\r\nend\r\n")
            .Append(",3.25\r\n,inf\r\n,-inf\r\n,nan\r\n,1e-05\r\n")
            .Append("#t\r\n#f\r\n")
            .Append("(3492890328409238509324850943850943825024385\r\n")
            .Append("=15\r\ntxt:Some string\r\n")
            .Append("!21\r\nSYNTAX invalid syntax\r\n")
            .Append("%2\r\n+first\r\n:1\r\n$6\r\nsecond\r\n%1\r\n+nested\r\n~2\r\n:1\r\n:2\r\n")
            .Append("~3\r\n+a\r\n+b\r\n+c\r\n")
            .Append(">3\r\n$7\r\nmessage\r\n$4\r\nnews\r\n$5\r\nhello\r\n")
            .Append("|1\r\n+key-popularity\r\n%1\r\n$1\r\na\r\n,0.19\r\n*1\r\n:42\r\n");
        var bytes = new List<byte>(Encoding.UTF8.GetBytes(text.ToString()));
        bytes.AddRange("$1024\r\n"u8.ToArray());
        bytes.AddRange(Kilobyte);
        bytes.AddRange("\r\n"u8.ToArray());
        return [.. bytes];
    }

    [Test]
    public void Every_reply_type_parses_to_the_expected_value()
    {
        var values = ParseAll(new ReadOnlySequence<byte>(EveryReplyType()));

        Assert.That(values.Select(Describe), Is.EqualTo(new[]
        {
            "SimpleString:OK", "SimpleString:PONG",
            "Error:WRONGTYPE Operation against a key holding the wrong kind of value",
            "Integer:0", "Integer:-9223372036854775808", "Integer:9223372036854775807",
            "BulkString:hello", "BulkString:", "Null", "Null", "Null",
            "Array[]",
            "Array[Integer:1, Array[BulkString:a, Array[Array[]]], BulkString:end]",
            "Double:3.25", "Double:Infinity", "Double:-Infinity", "Double:NaN", "Double:1E-05",
            "Boolean:True", "Boolean:False",
            "BigNumber:3492890328409238509324850943850943825024385",
            "VerbatimString:Some string",
            "Error:SYNTAX invalid syntax",
            "Map[SimpleString:first, Integer:1, BulkString:second, Map[SimpleString:nested, Set[Integer:1, Integer:2]]]",
            "Set[SimpleString:a, SimpleString:b, SimpleString:c]",
            "Push[BulkString:message, BulkString:news, BulkString:hello]",
            "Array[Integer:42]",
            "BulkString:" + Convert.ToHexString(Kilobyte),
        }));
    }

    [Test]
    public void A_reply_split_at_every_byte_boundary_parses_the_same_as_in_one_piece()
    {
        var bytes = EveryReplyType();
        var expected = ParseAll(new ReadOnlySequence<byte>(bytes)).Select(Describe).ToArray();

        for (var split = 1; split < bytes.Length; split++)
        {
            var actual = ParseAll(TwoSegments(bytes, split)).Select(Describe).ToArray();
            Assert.That(actual, Is.EqualTo(expected), $"split at byte {split}");
        }
    }

    [Test]
    public void An_incomplete_reply_consumes_nothing()
    {
        var bytes = EveryReplyType();
        var firstReplyEnds = new List<int>();
        var whole = new ReadOnlySequence<byte>(bytes);
        while (RespParser.TryParse(ref whole, out _)) firstReplyEnds.Add(bytes.Length - (int)whole.Length);
        var replyStarts = new[] { 0 }.Concat(firstReplyEnds).ToArray();

        for (var r = 0; r + 1 < replyStarts.Length; r++)
        {
            for (var end = replyStarts[r] + 1; end < replyStarts[r + 1]; end++)
            {
                var buffer = new ReadOnlySequence<byte>(bytes, replyStarts[r], end - replyStarts[r]);
                var before = buffer;
                Assert.That(RespParser.TryParse(ref buffer, out _), Is.False, $"reply {r} cut at byte {end}");
                Assert.That(buffer, Is.EqualTo(before));
                Assert.That(RespParser.HasWholeReply(buffer), Is.False, $"reply {r} cut at byte {end}");
            }
        }
    }

    [Test]
    public void A_whole_reply_is_recognised_without_being_built()
    {
        var bytes = EveryReplyType();
        var buffer = new ReadOnlySequence<byte>(bytes);
        while (!buffer.IsEmpty)
        {
            Assert.That(RespParser.HasWholeReply(buffer), Is.True);
            Assert.That(RespParser.TryParse(ref buffer, out _), Is.True);
        }
        Assert.That(RespParser.HasWholeReply(buffer), Is.False);
    }

    [TestCase("?what\r\n")]
    [TestCase(":12x\r\n")]
    [TestCase("$3\r\nabcXY")]
    [TestCase("#maybe\r\n")]
    [TestCase(",one\r\n")]
    [TestCase("$999999999999\r\n")]
    public void Bytes_that_are_not_RESP_raise_a_protocol_error(string reply)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(reply));

        Assert.That(() => RespParser.TryParse(ref buffer, out _), Throws.TypeOf<RedisProtocolException>());
    }

    [Test]
    public void Replies_nested_absurdly_deep_raise_a_protocol_error_instead_of_overflowing_the_stack()
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("*1\r\n", 10_000)) + ":1\r\n"));

        Assert.That(() => RespParser.TryParse(ref buffer, out _), Throws.TypeOf<RedisProtocolException>());
    }

    private static List<RespValue> ParseAll(ReadOnlySequence<byte> buffer)
    {
        var values = new List<RespValue>();
        while (RespParser.TryParse(ref buffer, out var value)) values.Add(value);
        Assert.That(buffer.Length, Is.Zero, "unparsed bytes left over");
        return values;
    }

    private static ReadOnlySequence<byte> TwoSegments(byte[] bytes, int split)
    {
        var first = new Segment(bytes.AsMemory(0, split), 0);
        var second = new Segment(bytes.AsMemory(split), split);
        first.SetNext(second);
        return new ReadOnlySequence<byte>(first, 0, second, second.Memory.Length);
    }

    private static string Describe(RespValue value) => value.Kind switch
    {
        RespKind.Null => "Null",
        RespKind.Array or RespKind.Set or RespKind.Map or RespKind.Push =>
            $"{value.Kind}[{string.Join(", ", value.Items.Select(Describe))}]",
        RespKind.Double => $"Double:{value.Double.ToString(System.Globalization.CultureInfo.InvariantCulture)}",
        RespKind.Boolean => $"Boolean:{value.Boolean}",
        RespKind.BulkString when value.Bytes.Length == 1024 => "BulkString:" + Convert.ToHexString(value.Bytes.Span),
        _ => $"{value.Kind}:{value}",
    };

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public void SetNext(Segment next) => Next = next;
    }
}
