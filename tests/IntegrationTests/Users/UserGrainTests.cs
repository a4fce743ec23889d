using Cluster.Grains.Interfaces.Users;
using Cluster.IntegrationTests.Jobs;

namespace Cluster.IntegrationTests.Users;

/// <summary>The account grain on a test cluster with a real redis-server: registration once, the lock, disabling, the listing.</summary>
public sealed class UserGrainTests : GrainTestBase
{
    private static string NewEmail() => $"someone-{Guid.NewGuid():N}@Example.test";

    [Test]
    public async Task An_email_registers_once_however_it_is_cased_and_its_account_survives_deactivation()
    {
        var email = NewEmail();
        var user = Grains.User(UserIds.Of(email));

        var first = await user.RegisterAsync(email, "hash-1", UserRoles.User);
        var again = await Grains.User(UserIds.Of("  " + email.ToUpperInvariant())).RegisterAsync(email, "hash-2", UserRoles.Admin);
        // Every idle activation leaves memory: the account is read back from storage.
        await Cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero);
        var login = await Grains.User(UserIds.Of(email)).GetLoginAsync();
        var listed = await Grains.ListUsersAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That((first, again), Is.EqualTo((true, false)));
            Assert.That(login.User?.Email, Is.EqualTo(email.ToLowerInvariant()), "stored normalised");
            Assert.That(login.User?.Role, Is.EqualTo(UserRoles.User), "the second registration changed nothing");
            Assert.That(login.PasswordHash, Is.EqualTo("hash-1"));
            Assert.That(listed.Select(u => u.Id), Does.Contain(UserIds.Of(email)));
        }
    }

    [Test]
    public async Task The_fifth_failure_in_a_row_locks_logins_a_success_before_it_clears_the_count_and_no_account_locks_alike()
    {
        var email = NewEmail();
        var user = Grains.User(UserIds.Of(email));
        await user.RegisterAsync(email, "hash", UserRoles.User);

        var counts = new List<int>();
        for (var i = 0; i < 4; i++) counts.Add(await user.LoginAttemptedAsync(false));
        counts.Add(await user.LoginAttemptedAsync(true));
        for (var i = 0; i < 4; i++) counts.Add(await user.LoginAttemptedAsync(false));
        Assert.That((await user.GetLoginAsync()).LockedUntil, Is.Null, "four failures since the success");
        await user.LoginAttemptedAsync(false);
        var locked = await user.GetLoginAsync();

        var nobody = Grains.User(UserIds.Of(NewEmail()));
        for (var i = 0; i < UserLockout.FailuresBeforeLock; i++) await nobody.LoginAttemptedAsync(false);
        var nobodysLogin = await nobody.GetLoginAsync();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(counts, Is.EqualTo(new[] { 1, 2, 3, 4, 0, 1, 2, 3, 4 }));
            Assert.That(DateTimeOffset.Parse(locked.LockedUntil!, System.Globalization.CultureInfo.InvariantCulture),
                Is.GreaterThan(DateTimeOffset.UtcNow + UserLockout.LockFor - TimeSpan.FromMinutes(1)));
            Assert.That(nobodysLogin.User, Is.Null);
            Assert.That(nobodysLogin.LockedUntil, Is.Not.Null, "an email with no account locks as an account does");
        }
    }

    [Test]
    public async Task A_disabled_account_says_so_and_an_unknown_one_cannot_be_disabled()
    {
        var email = NewEmail();
        var user = Grains.User(UserIds.Of(email));
        await user.RegisterAsync(email, "hash", UserRoles.User);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(await user.SetDisabledAsync(true), Is.True);
            Assert.That((await user.GetAsync())!.Disabled, Is.True);
            Assert.That(await Grains.User(UserIds.Of(NewEmail())).SetDisabledAsync(true), Is.False);
            Assert.That(UserIds.IsId(UserIds.Of(email)), Is.True);
            Assert.That(UserIds.IsId("u-nobody"), Is.False);
        }
    }
}
