using System.Net;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

public sealed class BootstrapKeyAndLoggingTests
{
    [Test]
    public async Task Without_a_configured_key_the_first_start_generates_one_prints_it_once_and_keeps_it_owner_only()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cluster-tests", "bootstrap-" + Guid.NewGuid().ToString("N"));
        try
        {
            string key;
            await using (var first = await SiloProcess.StartReadyAsync(new SiloSettings { DataDirectory = dataDirectory }))
            {
                key = (await File.ReadAllTextAsync(Path.Combine(dataDirectory, "bootstrap-api-key"))).Trim();
                using var response = await first.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/keys", key));
                using (Assert.EnterMultipleScope())
                {
                    Assert.That(first.StandardOutput.Count(l => l.Contains(key, StringComparison.Ordinal)), Is.EqualTo(1), "printed once");
                    Assert.That(File.GetUnixFileMode(Path.Combine(dataDirectory, "bootstrap-api-key")), Is.EqualTo(UnixFileMode.UserRead | UnixFileMode.UserWrite));
                    Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
                }
            }

            await using var second = await SiloProcess.StartReadyAsync(new SiloSettings { DataDirectory = dataDirectory });
            var logs = string.Concat(Directory.GetFiles(Path.Combine(dataDirectory, "logs")).Select(File.ReadAllText));

            using (Assert.EnterMultipleScope())
            {
                Assert.That(second.StandardOutput, Has.None.Contain(key), "a key is printed only when it is generated");
                Assert.That(logs, Does.Not.Contain(key), "the log files never hold the key");
                Assert.That(logs, Does.Contain("Connected to Redis at"), "the log files hold the silo's own lines");
            }
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    [Test]
    public async Task The_api_key_query_parameter_is_masked_in_the_logs_even_when_requests_are_logged()
    {
        const string key = "query-logged-admin-key-0123456789";
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cluster-tests", "masking-" + Guid.NewGuid().ToString("N"));
        try
        {
            var silo = await SiloProcess.StartReadyAsync(new SiloSettings
            {
                DataDirectory = dataDirectory,
                BootstrapApiKey = key,
                Environment = new Dictionary<string, string> { ["Serilog__MinimumLevel__Override__Microsoft.AspNetCore"] = "Information" },
            });
            await using (silo)
            {
                using var response = await silo.Http.GetAsync(new Uri("/api/whoami?api_key=" + key, UriKind.Relative));
                Assert.That(response.StatusCode, Is.EqualTo(HttpStatusCode.OK));
            } // stopping the silo flushes its log file
            var logs = string.Concat(Directory.GetFiles(Path.Combine(dataDirectory, "logs")).Select(File.ReadAllText));

            using (Assert.EnterMultipleScope())
            {
                Assert.That(logs, Does.Contain("api_key=***"), "the request was logged, masked");
                Assert.That(logs, Does.Not.Contain(key));
                Assert.That(silo.Transcript(), Does.Not.Contain(key));
            }
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }
}
