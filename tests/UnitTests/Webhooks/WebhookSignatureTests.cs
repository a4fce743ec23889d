using System.Text;
using Cluster.Silo.Webhooks;

namespace Cluster.UnitTests.Webhooks;

public sealed class WebhookSignatureTests
{
    [Test]
    public void The_signature_is_the_hex_hmac_sha256_of_the_body_with_a_sha256_prefix()
    {
        // A well-known HMAC-SHA256 vector: key "key", message "The quick brown fox jumps over the lazy dog".
        var signature = WebhookSignature.Sign("The quick brown fox jumps over the lazy dog"u8, "key");
        Assert.That(signature, Is.EqualTo("sha256=f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"));
    }

    [Test]
    public void A_signature_verifies_only_for_the_same_body_and_secret()
    {
        var body = Encoding.UTF8.GetBytes("""{"event":"job_completed"}""");
        var header = WebhookSignature.Sign(body, "s3cret");
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookSignature.Verify(body, "s3cret", header), Is.True);
            Assert.That(WebhookSignature.Verify(body, "other", header), Is.False);
            Assert.That(WebhookSignature.Verify(Encoding.UTF8.GetBytes("""{"event":"job_completed" }"""), "s3cret", header), Is.False);
            Assert.That(WebhookSignature.Verify(body, "s3cret", null), Is.False);
            Assert.That(WebhookSignature.Verify(body, "s3cret", header.ToUpperInvariant()), Is.False);
        }
    }
}
