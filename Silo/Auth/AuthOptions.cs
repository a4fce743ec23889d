namespace Cluster.Silo.Auth;

/// <summary>The <c>Auth</c> configuration section.</summary>
public sealed class AuthOptions
{
    public const string Section = "Auth";

    /// <summary>
    /// An admin API key ensured (stored hashed) at every start. When empty, the silo generates one on first
    /// start, prints it once and keeps it in <c>&lt;DataDir&gt;/bootstrap-api-key</c>. Env: <c>Auth__BootstrapApiKey</c>.
    /// </summary>
    public string? BootstrapApiKey { get; set; }

    /// <summary>How long a dashboard session cookie stays valid.</summary>
    public TimeSpan SessionLifetime { get; set; } = TimeSpan.FromHours(12);

    /// <summary>How long a silo trusts a key or session it looked up before asking Redis again (a deleted key keeps working on other silos this long).</summary>
    public TimeSpan LookupCacheDuration { get; set; } = TimeSpan.FromSeconds(30);
}
