namespace Cluster.Silo.Gateway;

/// <summary>The <c>Gateway</c> configuration section: limits of the <c>/ws</c> protocol.</summary>
public sealed class GatewayOptions
{
    public const string Section = "Gateway";

    /// <summary>How often the silo pings; a client silent for three of these is dropped.</summary>
    public TimeSpan HeartbeatInterval { get; set; } = TimeSpan.FromSeconds(15);

    /// <summary>Frames a connection may have waiting to be sent before its subscriptions are told they lagged.</summary>
    public int SendQueueFrames { get; set; } = 10_000;

    public int MaxSubscriptionsPerConnection { get; set; } = 100;

    public int MaxFrameBytes { get; set; } = 64 * 1024;
}
