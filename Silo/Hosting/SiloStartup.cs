using Cluster.Silo.Auth;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.Silo.Hosting;

/// <summary>
/// What must be true before the silo accepts a request: Redis is up and has an admin key. Runs before the web server listens, so a failure stops the silo with a clear message.
/// </summary>
/// <remarks>
/// The bootstrap key is resolved from the container once Redis is connected: it is stored through the
/// shared multiplexer, which the container hands out only after <see cref="SiloRedis.StartAsync"/>.
/// </remarks>
public sealed partial class SiloStartup(
    SiloRedis redis, IServiceProvider services, IConfiguration configuration, IOptions<OrleansHostOptions> orleans, ILogger<SiloStartup> logger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        await redis.StartAsync(cancellationToken).ConfigureAwait(false);
        if (redis.EmbeddedServer is { StartedHere: true }) await ForgetEarlierMembersAsync(cancellationToken).ConfigureAwait(false);

        // The topic streams are capped at this length (MAXLEN ~) by the grains' storage.
        if (configuration.GetValue<long?>("Streams:MaxLength") is < 1000 and var maxLength)
            throw new SiloStartupException($"Streams:MaxLength must be at least 1000, not {maxLength}");

        await services.GetRequiredService<BootstrapApiKey>().EnsureAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// An embedded server this silo started is reachable from this machine's silos only, and none of them runs:
    /// every member its membership table lists was killed. Orleans would spend minutes proving each one dead
    /// before it let this silo join; a new table says at once what is true.
    /// </summary>
    private async Task ForgetEarlierMembersAsync(CancellationToken cancellationToken)
    {
        var table = $"{orleans.Value.ServiceId}/members/{orleans.Value.ClusterId}";
        var removed = await redis.Multiplexer.GetDatabase().KeyDeleteAsync(table).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (removed) LogMembershipForgotten(logger, table);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed the membership table {Table} of silos that ran on this embedded Redis before it restarted")]
    private static partial void LogMembershipForgotten(ILogger logger, string table);
}
