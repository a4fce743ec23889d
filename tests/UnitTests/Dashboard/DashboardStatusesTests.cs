using System.Text.RegularExpressions;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Testing;

namespace Cluster.UnitTests.Dashboard;

public sealed partial class DashboardStatusesTests
{
    [GeneratedRegex(@"export const JOB_STATUSES = \[(?<list>[^\]]*)\]")]
    private static partial Regex StatusList();

    /// <summary>The status filter is built from this list, and the jobs API refuses a status it does not know.</summary>
    [Test]
    public void The_dashboard_offers_exactly_the_job_statuses_the_api_accepts()
    {
        var script = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "Silo", "wwwroot", "job-events.js"));
        var match = StatusList().Match(script);
        Assert.That(match.Success, "job-events.js declares JOB_STATUSES");
        var offered = Regex.Matches(match.Groups["list"].Value, "'([a-z_]+)'").Select(m => m.Groups[1].Value);
        Assert.That(offered, Is.EquivalentTo(JobStatus.All));
    }
}
