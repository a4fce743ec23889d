namespace Cluster.Silo.Webhooks;

/// <summary>
/// The <c>Webhooks</c> configuration section: how events are delivered to the <c>webhook_url</c> of jobs and
/// workflows. Every silo reads it; the values that steer shared state (the secret) must agree across silos.
/// </summary>
public sealed class WebhookOptions
{
    public const string Section = "Webhooks";

    /// <summary>Whether this silo reads events and sends deliveries at all. Env: <c>Webhooks__Enabled</c>.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// The HMAC-SHA256 key of the <c>X-Cluster-Signature</c> header. When empty the first silo to start generates
    /// one and keeps it in Redis (<c>cluster:config</c> field <c>webhook_secret</c>) so that every silo signs alike;
    /// admins read it with <c>GET /api/webhooks/secret</c>. Env: <c>Webhooks__Secret</c>.
    /// </summary>
    public string? Secret { get; set; }

    /// <summary>How long one POST may take, connection included, before it counts as failed. Env: <c>Webhooks__Timeout</c>.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Attempts per delivery, the first included; after the last failed one the delivery is marked failed.</summary>
    public int MaxAttempts { get; set; } = 8;

    /// <summary>The wait after the first failed attempt; each further failure doubles it up to <see cref="MaxRetryDelay"/>.</summary>
    public TimeSpan FirstRetryDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two attempts.</summary>
    public TimeSpan MaxRetryDelay { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>
    /// Lets webhook URLs reach loopback, private, link-local and unspecified addresses. Off by default, so that
    /// whoever may submit a job cannot make the cluster call its own internal services (SSRF). Tests turn it on.
    /// </summary>
    public bool AllowPrivateNetworks { get; set; }

    /// <summary>
    /// How long an event read by one silo may stay unacknowledged before another silo takes it over (the reader
    /// is presumed dead). Env: <c>Webhooks__ClaimIdleTime</c>.
    /// </summary>
    public TimeSpan ClaimIdleTime { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>How many POSTs one silo may have in flight at once.</summary>
    public int MaxConcurrentSends { get; set; } = 16;

    /// <summary>The longest a silo waits before looking for due deliveries again (it is woken earlier by its own events).</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How many attempts the delivery log of one job or workflow keeps (the newest).</summary>
    public int LogLength { get; set; } = 100;

    /// <summary>How long finished deliveries and delivery logs are kept in Redis after their last change.</summary>
    public TimeSpan Retention { get; set; } = TimeSpan.FromDays(7);

    /// <summary>What is wrong with these values, or null when they are usable.</summary>
    public string? Problem() =>
        Timeout <= TimeSpan.Zero ? "Webhooks:Timeout must be positive, e.g. 00:00:10"
        : MaxAttempts < 1 ? "Webhooks:MaxAttempts must be at least 1"
        : FirstRetryDelay < TimeSpan.Zero || MaxRetryDelay < FirstRetryDelay ? "Webhooks:FirstRetryDelay must not be negative nor above Webhooks:MaxRetryDelay"
        : ClaimIdleTime <= TimeSpan.Zero ? "Webhooks:ClaimIdleTime must be positive"
        : MaxConcurrentSends < 1 ? "Webhooks:MaxConcurrentSends must be at least 1"
        : PollInterval <= TimeSpan.Zero ? "Webhooks:PollInterval must be positive"
        : LogLength < 1 ? "Webhooks:LogLength must be at least 1"
        : Retention <= TimeSpan.Zero ? "Webhooks:Retention must be positive"
        : null;

    /// <summary>The wait after failed attempt number <paramref name="attempt"/> (1-based): 1 s, 2 s, 4 s… capped.</summary>
    public TimeSpan RetryDelay(int attempt)
    {
        var factor = Math.Pow(2, Math.Clamp(attempt - 1, 0, 40));
        var ms = Math.Min(FirstRetryDelay.TotalMilliseconds * factor, MaxRetryDelay.TotalMilliseconds);
        return TimeSpan.FromMilliseconds(ms);
    }
}
