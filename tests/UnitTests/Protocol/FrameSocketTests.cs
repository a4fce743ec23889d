using System.Text;
using System.Text.Json;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Silo.Protocol;

namespace Cluster.UnitTests.Protocol;

public sealed class FrameSocketTests
{
    private static byte[] Bytes(string json) => Encoding.UTF8.GetBytes(json);

    [TestCase("""{"v":1,"type":"ping","id":"\ud800"}""")]
    [TestCase("""{"v":1,"type":"ping","note":"x\udc00"}""")]
    [TestCase("""{"v":1,"type":"ping","type":"ping"}""")]
    [TestCase("""[{"v":1,"type":"ping"}]""")]
    [TestCase("""{"v":null,"type":"ping"}""")]
    [TestCase("""{"v":1,"type":null}""")]
    public void A_malformed_envelope_is_a_validation_error(string json)
    {
        var error = FrameSocket.ReadEnvelope(Bytes(json), out _);

        Assert.That(error?.Error.Code, Is.EqualTo("VALIDATION_ERROR"), error?.Error.Message);
    }

    [Test]
    public void Invalid_utf8_in_a_binary_message_is_a_validation_error()
    {
        var error = FrameSocket.ReadEnvelope([.. "{\"v\":1,\"type\":\""u8, 0xC3, 0x28, .. "\"}"u8], out _);

        Assert.That(error?.Error.Code, Is.EqualTo("VALIDATION_ERROR"));
    }

    [TestCase("Complete", """{"type":"complete","job_id":null,"lease_token":"t"}""")]
    [TestCase("Complete", """{"type":"complete","job_id":"j","lease_token":null}""")]
    [TestCase("Progress", """{"type":"progress","job_id":"j","lease_token":"t","progress":null}""")]
    [TestCase("Fail", """{"type":"fail","job_id":"j","lease_token":"t","error":null}""")]
    [TestCase("Fail", """{"type":"fail","job_id":"j","lease_token":"t","error":{"code":null,"message":"m"}}""")]
    [TestCase("Fail", """{"type":"fail","job_id":"j","lease_token":"t","retryable":null}""")]
    [TestCase("Register", """{"type":"register","worker_id":null,"machine_id":"m"}""")]
    [TestCase("Register", """{"type":"register","worker_id":"w","machine_id":null}""")]
    [TestCase("Register", """{"type":"register","worker_id":"w","machine_id":"m","capabilities":null}""")]
    [TestCase("Register", """{"type":"register","worker_id":"w","machine_id":"m","capabilities":{"model_types":null}}""")]
    [TestCase("Unsubscribe", """{"type":"unsubscribe","subscription":null}""")]
    public void Null_where_the_frame_s_type_allows_none_is_refused(string frame, string json)
    {
        Assert.That(FrameSocket.ReadEnvelope(Bytes(json), out _), Is.Null, "the envelope itself is fine");
        Assert.That(() => Read(frame, json), Throws.InstanceOf<JsonException>());
    }

    [Test]
    public void Null_in_an_optional_field_reads_as_absent()
    {
        var subscribe = FrameSocket.Read<SubscribeFrame>(Bytes("""{"type":"subscribe","topic":null,"filter":null,"since":null,"id":null}"""));
        var progress = FrameSocket.Read<ProgressFrame>(Bytes("""{"type":"progress","job_id":"j","lease_token":"t","message":null}"""));
        var complete = FrameSocket.Read<CompleteFrame>(Bytes("""{"type":"complete","job_id":"j","lease_token":"t","result":null}"""));
        var register = FrameSocket.Read<RegisterFrame>(Bytes("""{"type":"register","worker_id":"w","machine_id":"m","host":null,"gpu_index":null}"""));

        Assert.That(subscribe.Topic, Is.Null);
        Assert.That(progress.Message, Is.Null);
        Assert.That(complete.Result, Is.Null);
        Assert.That(register.Host, Is.Null);
    }

    private static object Read(string frame, string json) => frame switch
    {
        "Complete" => FrameSocket.Read<CompleteFrame>(Bytes(json)),
        "Progress" => FrameSocket.Read<ProgressFrame>(Bytes(json)),
        "Fail" => FrameSocket.Read<FailFrame>(Bytes(json)),
        "Register" => FrameSocket.Read<RegisterFrame>(Bytes(json)),
        "Unsubscribe" => FrameSocket.Read<UnsubscribeFrame>(Bytes(json)),
        _ => throw new ArgumentOutOfRangeException(nameof(frame)),
    };
}
