using System.Globalization;
using Cluster.Grains.Interfaces.Silos;

namespace Cluster.Silo.Membership;

/// <summary>
/// The silos of <c>/api/silos</c>: those Orleans membership lists as active, each with what it last reported
/// of itself. Every value is a string, as the API has always answered.
/// </summary>
public static class SiloList
{
    public static async Task<IReadOnlyList<Dictionary<string, string>>> ReadAsync(IGrainFactory grains)
    {
        var hosts = grains.GetGrain<IManagementGrain>(0).GetDetailedHosts(onlyActive: true);
        var reports = await ReportsAsync(grains);
        return (await hosts)
            .OrderBy(h => h.StartTime)
            .Select(h => Describe(h, reports.GetValueOrDefault(h.SiloAddress.ToParsableString())))
            .ToArray();
    }

    /// <summary>
    /// The reports, or none while the directory cannot answer: its activation may have been on a silo that was
    /// just killed, and calls to it fail until membership declares that silo dead. The list stays available.
    /// </summary>
    private static async Task<IReadOnlyDictionary<string, SiloReport>> ReportsAsync(IGrainFactory grains)
    {
        try
        {
            return await grains.GetGrain<ISiloDirectoryGrain>(ISiloDirectoryGrain.Key).ListAsync().WaitAsync(ReportTimeout);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException)
        {
            return new Dictionary<string, SiloReport>();
        }
    }

    private static readonly TimeSpan ReportTimeout = TimeSpan.FromSeconds(2);

    private static Dictionary<string, string> Describe(MembershipEntry member, SiloReport? report)
    {
        var lastSeen = report?.ReportedAt > member.IAmAliveTime ? report.ReportedAt : member.IAmAliveTime;
        return new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["id"] = member.SiloName,
            ["host"] = member.HostName,
            ["orleans_address"] = member.SiloAddress.ToParsableString(),
            ["status"] = member.Status.ToString().ToLowerInvariant(),
            ["started_at"] = Timestamp(member.StartTime),
            ["last_seen"] = Timestamp(lastSeen),
            ["pid"] = report is null ? "" : report.ProcessId.ToString(CultureInfo.InvariantCulture),
            ["addresses"] = report?.Addresses ?? "",
            ["workers"] = report is null ? "" : report.Workers.ToString(CultureInfo.InvariantCulture),
            ["subscribers"] = report is null ? "" : report.Subscribers.ToString(CultureInfo.InvariantCulture),
            ["memory_mb"] = report is null ? "" : report.MemoryMb.ToString(CultureInfo.InvariantCulture),
        };
    }

    private static string Timestamp(DateTime time) =>
        DateTime.SpecifyKind(time, DateTimeKind.Utc).ToString("O", CultureInfo.InvariantCulture);
}
