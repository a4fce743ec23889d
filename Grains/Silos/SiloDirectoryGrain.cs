using Cluster.Grains.Interfaces.Silos;

namespace Cluster.Grains.Silos;

/// <summary>
/// Keeps the silos' reports in memory only: they are renewed every few seconds, so a directory reactivated
/// elsewhere after its silo died is complete again within one report interval.
/// </summary>
public sealed class SiloDirectoryGrain : Grain, ISiloDirectoryGrain
{
    /// <summary>Reports older than this are of silos gone quietly; membership drops them sooner.</summary>
    private static readonly TimeSpan Forget = TimeSpan.FromMinutes(1);
    private readonly Dictionary<string, SiloReport> _reports = new(StringComparer.Ordinal);

    public Task ReportAsync(SiloReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        _reports[report.SiloAddress] = report;
        return Task.CompletedTask;
    }

    public Task<IReadOnlyDictionary<string, SiloReport>> ListAsync()
    {
        var cutoff = DateTime.UtcNow - Forget;
        foreach (var stale in _reports.Where(r => r.Value.ReportedAt < cutoff).Select(r => r.Key).ToList()) _reports.Remove(stale);
        return Task.FromResult<IReadOnlyDictionary<string, SiloReport>>(new Dictionary<string, SiloReport>(_reports, StringComparer.Ordinal));
    }
}
