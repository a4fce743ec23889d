using Cluster.Silo.Api;

namespace Cluster.UnitTests.Hosting;

public sealed class ApiErrorTests
{
    [TestCase(401, "UNAUTHORIZED")]
    [TestCase(403, "FORBIDDEN")]
    [TestCase(404, "NOT_FOUND")]
    [TestCase(413, "PAYLOAD_TOO_LARGE")]
    [TestCase(429, "RATE_LIMITED")]
    [TestCase(500, "INTERNAL_ERROR")]
    [TestCase(503, "UNAVAILABLE")]
    public void A_bare_status_code_maps_to_its_error_code(int status, string code) =>
        Assert.That(ApiError.CodeFor(status), Is.EqualTo(code));

    [Test]
    public void The_error_body_serialises_to_the_documented_shape()
    {
        var json = System.Text.Json.JsonSerializer.Serialize(new ApiErrorBody(new ApiErrorDetail("NOT_FOUND", "gone")));
        Assert.That(json, Is.EqualTo("""{"success":false,"error":{"code":"NOT_FOUND","message":"gone"}}"""));
    }
}
