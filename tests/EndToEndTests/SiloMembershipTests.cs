using System.Text.Json;
using Cluster.Testing;

namespace Cluster.EndToEndTests;

/// <summary>Silos find each other through Orleans membership in Redis: scaling out is starting another silo.</summary>
public sealed class SiloMembershipTests
{
    private const string Key = "e2e-membership-admin-key-0123456789ab";
    private static readonly TimeSpan ExitDeadline = TimeSpan.FromSeconds(30);

    [Test]
    public async Task A_second_silo_in_the_same_data_directory_joins_with_nothing_but_another_url_and_shares_the_embedded_Redis()
    {
        var dataDirectory = Path.Combine(Path.GetTempPath(), "cluster-tests", "shared-" + Guid.NewGuid().ToString("N"));
        var settings = new SiloSettings { DataDirectory = dataDirectory, BootstrapApiKey = Key };
        try
        {
            await using var first = await SiloProcess.StartReadyAsync(settings);
            var redisPid = first.EmbeddedRedisPid ?? throw new AssertionException("no embedded redis-server pid file");
            await using var second = await SiloProcess.StartReadyAsync(settings);

            var pids = await ListedPidsAsync(second, count: 2);
            Assert.That(pids, Is.EquivalentTo(new[] { first.ProcessId, second.ProcessId }), "both silos are members of one cluster");
            Assert.That(second.EmbeddedRedisPid, Is.EqualTo(redisPid), "the second silo uses the first one's redis-server");

            first.SendSigterm();
            await first.WaitForExitAsync(ExitDeadline);
            Assert.That(ProcessTools.IsAlive(redisPid), Is.True, "the redis-server outlives the silo that started it while another uses it");
            await ListedPidsAsync(second, count: 1);
            using (var ready = await second.Http.GetAsync(new Uri("/health/ready", UriKind.Relative)))
                Assert.That(ready.IsSuccessStatusCode, Is.True, "the remaining silo still serves");

            second.SendSigterm();
            await second.WaitForExitAsync(ExitDeadline);
            await Eventually.UntilAsync(() => Task.FromResult(!ProcessTools.IsAlive(redisPid)), "the last silo to stop stops the redis-server");
        }
        finally
        {
            try { Directory.Delete(dataDirectory, recursive: true); } catch (IOException) { }
        }
    }

    [Test]
    public async Task A_silo_killed_hard_leaves_the_list_once_membership_declares_it_dead()
    {
        await using var cluster = await SiloCluster.StartAsync(2, new SiloSettings { BootstrapApiKey = Key });
        await ListedPidsAsync(cluster[1], count: 2);

        cluster[0].KillHard();

        var pids = await ListedPidsAsync(cluster[1], count: 1, within: TimeSpan.FromSeconds(60));
        Assert.That(pids, Is.EqualTo(new[] { cluster[1].ProcessId }));
    }

    /// <summary>Waits until <c>/api/silos</c> lists <paramref name="count"/> silos that have all reported, and returns their pids.</summary>
    private static async Task<int[]> ListedPidsAsync(SiloProcess silo, int count, TimeSpan? within = null)
    {
        var silos = await Eventually.HoldsAsync(async () =>
        {
            using var response = await silo.Http.SendAsync(SiloProcess.Request(HttpMethod.Get, "/api/silos", Key));
            return (await response.JsonAsync()).GetProperty("silos");
        }, s => s.GetArrayLength() == count && s.EnumerateArray().All(e => e.GetProperty("pid").GetString() != ""),
            within ?? TimeSpan.FromSeconds(30), because: $"{count} silos are active and have reported");
        return silos.EnumerateArray().Select(s => int.Parse(s.GetProperty("pid").GetString()!, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
