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

    /// <summary>How long a silo trusts a key or session it looked up before asking Redis again; revocations (<see cref="Revocations"/>) end one sooner.</summary>
    public TimeSpan LookupCacheDuration { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Who may create an account at <c>POST /api/auth/register</c>: <c>open</c> (anyone), <c>invite</c> (the default:
    /// whoever holds an unused invitation code an admin made) or <c>closed</c> (nobody). Env: <c>Auth__Registration</c>.
    /// </summary>
    public string Registration { get; set; } = RegistrationModes.Invite;

    /// <summary>How long an invitation code can be used.</summary>
    public TimeSpan InvitationLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>The problem with these options, or null.</summary>
    public string? Problem() =>
        RegistrationModes.All.Contains(Registration, StringComparer.Ordinal) ? null
            : $"Auth:Registration must be one of {string.Join(", ", RegistrationModes.All)}, not '{Registration}'";
}

/// <summary>The values of <see cref="AuthOptions.Registration"/>.</summary>
public static class RegistrationModes
{
    public const string Open = "open";
    public const string Invite = "invite";
    public const string Closed = "closed";
    public static IReadOnlyList<string> All { get; } = [Open, Invite, Closed];
}
