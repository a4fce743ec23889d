using System.Net;
using System.Text.Json;

namespace Cluster.EndToEndTests;

/// <summary>Reading the silo's JSON answers in assertions.</summary>
internal static class ApiResponses
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        try
        {
            return JsonDocument.Parse(text).RootElement.Clone();
        }
        catch (JsonException)
        {
            Assert.Fail($"Expected JSON from {response.RequestMessage?.RequestUri}, got {(int)response.StatusCode}: '{text}'");
            throw;
        }
    }

    /// <summary>Asserts the status and the <c>{success:false, error:{code, message}}</c> shape.</summary>
    public static async Task AssertErrorAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var body = await response.JsonAsync().ConfigureAwait(false);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(response.StatusCode, Is.EqualTo(status), body.ToString());
            Assert.That(body.GetProperty("success").GetBoolean(), Is.False);
            Assert.That(body.GetProperty("error").GetProperty("code").GetString(), Is.EqualTo(code));
            Assert.That(body.GetProperty("error").GetProperty("message").GetString(), Is.Not.Empty);
        }
    }
}
