using Cluster.Grains.Interfaces.Users;
using Cluster.Grains.Jobs;
using Cluster.Grains.Storage;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Users;

/// <summary>An account's persisted state; the <c>users</c> hash (id → email) that lists the accounts is written with it.</summary>
[GenerateSerializer, Alias("Cluster.UserRecord")]
public sealed class UserRecord : IOutboxState
{
    [NonSerialized] private Outbox? _outbox;

    public Outbox Outbox => _outbox ??= new();

    [Id(0)] public string Email { get; set; } = "";
    [Id(1)] public string PasswordHash { get; set; } = "";
    [Id(2)] public string Role { get; set; } = "";
    [Id(3)] public bool Disabled { get; set; }
    [Id(4)] public long CreatedMs { get; set; }
    [Id(5)] public int FailedLogins { get; set; }
    [Id(6)] public long LockedUntilMs { get; set; }

    public bool Exists => CreatedMs > 0;
}

/// <summary>One account (<see cref="IUserGrain"/>).</summary>
public sealed class UserGrain([PersistentState("user", JobGrain.Storage)] IPersistentState<UserRecord> state) : Grain, IUserGrain
{
    /// <summary>The hash of every account's id and email, for admins' listing.</summary>
    public const string IndexKey = "users";

    // For an email with no account: counted in memory only, so that failed logins lock it as they would an account.
    private int _unknownFailures;
    private long _unknownLockedUntilMs;

    private UserRecord User => state.State;
    private string Id => this.GetPrimaryKeyString();

    public async Task<bool> RegisterAsync(string email, string passwordHash, string role)
    {
        if (User.Exists) return false;
        User.Email = UserIds.Normalize(email);
        User.PasswordHash = passwordHash;
        User.Role = role;
        User.CreatedMs = NowMs;
        User.Outbox.HashSet(IndexKey, Id, User.Email);
        await state.WriteStateAsync();
        return true;
    }

    public Task<LoginRecord> GetLoginAsync()
    {
        return Task.FromResult(new LoginRecord
        {
            User = User.Exists ? View() : null,
            PasswordHash = User.Exists ? User.PasswordHash : null,
            LockedUntil = LockedUntil(User.Exists ? User.LockedUntilMs : _unknownLockedUntilMs),
        });
    }

    public Task<UserView?> GetAsync() => Task.FromResult(User.Exists ? View() : null);

    public async Task<int> LoginAttemptedAsync(bool succeeded, string? rehashedPassword = null)
    {
        if (!User.Exists)
        {
            (_unknownFailures, _unknownLockedUntilMs) = Count(succeeded, _unknownFailures, _unknownLockedUntilMs);
            return _unknownFailures;
        }
        var (failures, lockedUntilMs) = Count(succeeded, User.FailedLogins, User.LockedUntilMs);
        if (failures == User.FailedLogins && lockedUntilMs == User.LockedUntilMs && rehashedPassword is null) return failures;
        (User.FailedLogins, User.LockedUntilMs) = (failures, lockedUntilMs);
        if (succeeded && rehashedPassword is not null) User.PasswordHash = rehashedPassword;
        await state.WriteStateAsync();
        return failures;
    }

    /// <summary>Failures in a row and the lock after a login: a success clears both; the failure that reaches the limit locks and starts the count again.</summary>
    private static (int Failures, long LockedUntilMs) Count(bool succeeded, int failures, long lockedUntilMs) =>
        succeeded ? (0, 0)
        : failures + 1 >= UserLockout.FailuresBeforeLock ? (0, NowMs + (long)UserLockout.LockFor.TotalMilliseconds)
        : (failures + 1, lockedUntilMs);

    public async Task<bool> SetDisabledAsync(bool disabled)
    {
        if (!User.Exists) return false;
        if (User.Disabled == disabled) return true;
        User.Disabled = disabled;
        await state.WriteStateAsync();
        return true;
    }

    private UserView View() => new()
    {
        Id = Id,
        Email = User.Email,
        Role = User.Role,
        Disabled = User.Disabled,
        CreatedAt = Iso(User.CreatedMs)!,
        LockedUntil = LockedUntil(User.LockedUntilMs),
    };

    /// <summary>When a lock ends, or null when there is none now.</summary>
    private static string? LockedUntil(long ms) => ms > NowMs ? Iso(ms) : null;
}
