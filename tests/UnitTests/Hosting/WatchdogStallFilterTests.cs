using Cluster.Silo.Hosting;
using Serilog.Events;
using Serilog.Parsing;

namespace Cluster.UnitTests.Hosting;

public sealed class WatchdogStallFilterTests
{
    private static LogEvent Stall(string source, TimeSpan stall) =>
        new(DateTimeOffset.UtcNow, LogEventLevel.Warning, null,
            new MessageTemplateParser().Parse("Participant check thread has not completed for {TimeSinceLastTick}, potentially indicating lock contention"),
            [new LogEventProperty("SourceContext", new ScalarValue(source)), new LogEventProperty("TimeSinceLastTick", new ScalarValue(stall))]);

    [Test]
    public void A_watchdog_stall_longer_than_the_process_has_run_is_dropped() =>
        Assert.That(LoggingExtensions.IsAnImpossibleWatchdogStall(Stall("Orleans.Runtime.Watchdog", TimeSpan.FromHours(2)), TimeSpan.FromSeconds(3)), Is.True);

    [Test]
    public void A_real_stall_is_kept() =>
        Assert.That(LoggingExtensions.IsAnImpossibleWatchdogStall(Stall("Orleans.Runtime.Watchdog", TimeSpan.FromSeconds(30)), TimeSpan.FromHours(5)), Is.False);

    [Test]
    public void Another_component_reporting_a_long_time_is_kept() =>
        Assert.That(LoggingExtensions.IsAnImpossibleWatchdogStall(Stall("Cluster.Silo.Anything", TimeSpan.FromHours(2)), TimeSpan.FromSeconds(3)), Is.False);
}
