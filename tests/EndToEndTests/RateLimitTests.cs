using System.Net;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

public sealed class RateLimitTests
{
    [Test]
    public async Task A_key_over_its_rate_gets_429_in_the_error_shape()
    {
        const string key = "rate-limited-admin-key-0123456789";
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings
        {
            BootstrapApiKey = key,
            Environment = new Dictionary<string, string> { ["RateLimit__PermitsPerSecond"] = "1", ["RateLimit__Burst"] = "1" },
        });

        // One permit a second: among fifty back-to-back requests some must be refused, however slow the machine.
        HttpResponseMessage? refused = null;
        for (var i = 0; i < 50 && refused is null; i++)
        {
            var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/whoami", key));
            if (response.StatusCode == HttpStatusCode.TooManyRequests) refused = response;
            else response.Dispose();
        }

        Assert.That(refused, Is.Not.Null, "no request was refused");
        using (refused) await refused!.AssertErrorAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
    }

    [Test]
    public async Task Health_probes_are_never_rate_limited()
    {
        await using var silo = await SiloProcess.StartReadyAsync(new SiloSettings
        {
            Environment = new Dictionary<string, string> { ["RateLimit__PermitsPerSecond"] = "1", ["RateLimit__Burst"] = "1" },
        });

        var statuses = new List<HttpStatusCode>();
        for (var i = 0; i < 20; i++)
        {
            using var response = await silo.Http.GetAsync(new Uri("/health/live", UriKind.Relative));
            statuses.Add(response.StatusCode);
        }

        Assert.That(statuses, Is.All.EqualTo(HttpStatusCode.OK));
    }
}
