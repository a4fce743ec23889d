namespace Cluster.Grains.Interfaces.Users;

/// <summary>
/// One account, keyed by <see cref="UserIds.Of"/> its email: the id, not the address, names the grain, so that
/// addresses never appear in grain ids, logs or Redis keys. The password is checked at the silo that received it;
/// the grain keeps only its hash and the count of failed logins that locks the account for a while.
/// </summary>
public interface IUserGrain : IGrainWithStringKey
{
    /// <summary>Creates the account; false if it exists already.</summary>
    Task<bool> RegisterAsync(string email, string passwordHash, string role);

    /// <summary>What a login checks: the account and its password hash (none if there is no account) and whether logins are locked.</summary>
    Task<LoginRecord> GetLoginAsync();

    /// <summary>The account, or null if there is none.</summary>
    Task<UserView?> GetAsync();

    /// <summary>
    /// Records a login's outcome and returns the failures in a row so far: a success clears them, a failure counts and, at
    /// <see cref="UserLockout.FailuresBeforeLock"/> in a row, locks logins for <see cref="UserLockout.LockFor"/>. An email
    /// with no account counts and locks the same way (in memory only), so that a lock tells nothing of who has an account.
    /// A rehashed password (the hasher's format moved on) is stored with a success.
    /// </summary>
    Task<int> LoginAttemptedAsync(bool succeeded, string? rehashedPassword = null);

    /// <summary>Disables or enables the account; false if there is none. A disabled account cannot log in or use its sessions.</summary>
    Task<bool> SetDisabledAsync(bool disabled);
}

/// <summary>How an email becomes a user id.</summary>
public static class UserIds
{
    /// <summary>Trimmed and lower-cased: one account per address however it is typed.</summary>
    public static string Normalize(string email) => email.Trim().ToLowerInvariant();

    /// <summary>True if <paramref name="id"/> has the shape of a user id.</summary>
    public static bool IsId(string id) => id.Length == 26 && id.StartsWith("u-", StringComparison.Ordinal) && id.AsSpan(2).ContainsAnyExcept("0123456789abcdef") is false;

    /// <summary>The first 24 hex digits of the SHA-256 of the normalized email.</summary>
    public static string Of(string email) =>
        "u-" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(Normalize(email))))[..24];
}

/// <summary>The roles an account has, and the scopes each grants.</summary>
public static class UserRoles
{
    public const string User = "user";
    public const string Admin = "admin";

    /// <summary>What a role may do: a user submits and follows its own work; an admin does everything.</summary>
    public static IReadOnlyList<string> Scopes(string role) => role == Admin ? ApiScopes.All : [ApiScopes.Submit];
}

/// <summary>When repeated failed logins lock an account.</summary>
public static class UserLockout
{
    public const int FailuresBeforeLock = 5;
    public static readonly TimeSpan LockFor = TimeSpan.FromMinutes(5);
}

[GenerateSerializer, Alias("Cluster.UserView")]
public sealed record UserView
{
    [Id(0)] public required string Id { get; init; }
    [Id(1)] public required string Email { get; init; }
    [Id(2)] public required string Role { get; init; }
    [Id(3)] public bool Disabled { get; init; }
    [Id(4)] public required string CreatedAt { get; init; }
    /// <summary>Logins are refused until then (ISO 8601), after too many failures in a row; null when not locked.</summary>
    [Id(5)] public string? LockedUntil { get; init; }
}

[GenerateSerializer, Alias("Cluster.LoginRecord")]
public sealed record LoginRecord
{
    /// <summary>Null when no account has the email.</summary>
    [Id(0)] public UserView? User { get; init; }
    [Id(1)] public string? PasswordHash { get; init; }
    /// <summary>Logins are refused until then (ISO 8601) after too many failures in a row, account or not; null when not locked.</summary>
    [Id(2)] public string? LockedUntil { get; init; }
}
