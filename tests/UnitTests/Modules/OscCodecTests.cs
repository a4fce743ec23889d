using Cluster.Grains.Modules.Osc;

namespace Cluster.UnitTests.Modules;

/// <summary>The OSC 1.0 codec: the bytes of the spec and of liblo, every type tag both ways, and bad packets refused, never thrown on.</summary>
public sealed class OscCodecTests
{
    [Test]
    public void A_message_is_encoded_byte_for_byte_as_liblo_encodes_it()
    {
        // `oscsend - /x ifs 1 2 ab | xxd` with liblo 0.31.
        byte[] liblo = Convert.FromHexString("2f7800002c69667300000000000000014000000061620000");

        Assert.That(OscCodec.Encode(new OscMessage("/x", 1, 2f, "ab")), Is.EqualTo(liblo));
        Assert.That(OscCodec.TryDecode(liblo, out var packet, out _), Is.True);
        Assert.That(packet, Is.EqualTo(new OscMessage("/x", 1, 2f, "ab")));
    }

    [Test]
    public void Every_type_tag_and_nested_bundles_survive_a_round_trip_with_4_byte_alignment()
    {
        var packet = new OscBundle(OscBundle.Immediately,
        [
            new OscMessage("/all/types", -7, 0.25f, "héllo", new byte[] { 1, 2, 3, 4, 5 }, true, false, null, OscInfinitum.Value),
            new OscBundle(0xDEADBEEF_00000001, [new OscMessage("/inner"), new OscMessage("/three", "abc")]),
        ]);

        var bytes = OscCodec.Encode(packet);

        Assert.That(bytes.Length % 4, Is.Zero);
        Assert.That(OscCodec.TryDecode(bytes, out var decoded, out var error), Is.True, error);
        Assert.That(decoded, Is.EqualTo(packet));
        Assert.That(((OscMessage)((OscBundle)decoded!).Elements[0]).TypeTags, Is.EqualTo("ifsbTFNI"));
    }

    [Test]
    public void A_message_without_a_type_tag_string_as_old_senders_send_it_has_no_arguments()
    {
        Assert.That(OscCodec.TryDecode("/ping\0\0\0"u8, out var packet, out _), Is.True);
        Assert.That(packet, Is.EqualTo(new OscMessage("/ping")));
    }

    private static IEnumerable<TestCaseData> Malformed()
    {
        var valid = OscCodec.Encode(new OscMessage("/x", 1, "ab", new byte[] { 9 }));
        yield return new TestCaseData(Array.Empty<byte>(), "multiple of 4").SetName("empty");
        yield return new TestCaseData(valid[..^1], "multiple of 4").SetName("one byte short");
        yield return new TestCaseData("x\0\0\0"u8.ToArray(), "starts with '/'").SetName("no address");
        yield return new TestCaseData("/abc"u8.ToArray(), "terminating NUL").SetName("address without NUL");
        yield return new TestCaseData("/x\0\0x\0\0\0"u8.ToArray(), "','").SetName("tags without comma");
        yield return new TestCaseData("/x\0\0,q\0\0"u8.ToArray(), "type tag 'q'").SetName("unknown tag");
        yield return new TestCaseData("/x\0\0,i\0\0"u8.ToArray(), "cut short").SetName("missing int");
        yield return new TestCaseData("/x\0\0,b\0\0\0\0\0\x10"u8.ToArray(), "blob of 16").SetName("blob longer than the packet");
        yield return new TestCaseData("/x\0\0,i\0\0\0\0\0\x01\0\0\0\0"u8.ToArray(), "follow").SetName("bytes after the arguments");
        yield return new TestCaseData("#bundle\0\0\0\0\0\0\0\0\x01\0\0\0\x40"u8.ToArray(), "does not fit").SetName("element larger than the bundle");
        var deep = new OscMessage("/deep") as OscPacket;
        for (var i = 0; i < 9; i++) deep = new OscBundle(OscBundle.Immediately, [deep]);
        yield return new TestCaseData(OscCodec.Encode(deep), "nested deeper").SetName("bundles nested 9 deep");
    }

    [TestCaseSource(nameof(Malformed))]
    public void A_malformed_packet_is_refused_with_the_problem_named(byte[] packet, string problem)
    {
        Assert.That(OscCodec.TryDecode(packet, out var decoded, out var error), Is.False);
        Assert.That(decoded, Is.Null);
        Assert.That(error, Does.Contain(problem));
    }

    [Test]
    public void Ten_thousand_corrupted_packets_never_make_the_decoder_throw()
    {
        var random = new Random(20261130);
        var valid = OscCodec.Encode(new OscBundle(OscBundle.Immediately,
            [new OscMessage("/a", 1, 2.5f, "text", new byte[] { 1, 2, 3 }, true, null), new OscBundle(7, [new OscMessage("/b", "x")])]));
        var refused = 0;
        for (var i = 0; i < 10_000; i++)
        {
            var bytes = valid[..random.Next(0, valid.Length + 1)];
            for (var flips = random.Next(1, 4); flips > 0 && bytes.Length > 0; flips--) bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
            if (!OscCodec.TryDecode(bytes, out _, out var error))
            {
                Assert.That(error, Is.Not.Empty);
                refused++;
            }
        }
        Assert.That(refused, Is.GreaterThan(5_000), "most corruptions are caught");
    }

    [Test]
    public void What_osc_cannot_carry_is_refused_when_encoding()
    {
        Assert.That(() => OscCodec.Encode(new OscMessage("no-slash")), Throws.ArgumentException.With.Message.Contains("starts with '/'"));
        Assert.That(() => OscCodec.Encode(new OscMessage("/x", 1.5)), Throws.ArgumentException.With.Message.Contains("Double"));
        Assert.That(() => OscCodec.Encode(new OscMessage("/x", "a\0b")), Throws.ArgumentException.With.Message.Contains("NUL"));
    }
}
