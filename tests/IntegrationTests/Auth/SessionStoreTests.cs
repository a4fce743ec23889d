using Cluster.Grains.Interfaces;
using Cluster.Silo.Auth;
using Cluster.Testing;
using Microsoft.Extensions.Options;

namespace Cluster.IntegrationTests.Auth;

public sealed class SessionStoreTests
{
    [Test]
    public async Task A_session_expires_on_its_own_and_is_stored_under_a_hash_of_its_id()
    {
        await using var redis = await RedisFixture.StartAsync();
        var options = Options.Create(new AuthOptions { SessionLifetime = TimeSpan.FromMinutes(10) });
        using var keys = new ApiKeyStore(redis.Multiplexer, options);
        using var sessions = new SessionStore(redis.Multiplexer, options);
        var (_, key) = await keys.CreateAsync("browser", [ApiScopes.Monitor]);

        var sessionId = await sessions.CreateAsync(key);
        var ttl = (long)(await redis.Database.ExecuteAsync("TTL", SessionStore.KeyPrefix + ApiKeySecret.Hash(sessionId)));

        using (Assert.EnterMultipleScope())
        {
            Assert.That(ttl, Is.InRange(1, 600));
            Assert.That(await redis.Database.KeyExistsAsync(SessionStore.KeyPrefix + sessionId), Is.False);
            Assert.That((await sessions.FindAsync(sessionId))?.KeyHash, Is.EqualTo(key.Hash));
        }
    }

    [Test]
    public async Task A_closed_session_is_not_found()
    {
        await using var redis = await RedisFixture.StartAsync();
        var options = Options.Create(new AuthOptions());
        using var keys = new ApiKeyStore(redis.Multiplexer, options);
        using var sessions = new SessionStore(redis.Multiplexer, options);
        var (_, key) = await keys.CreateAsync("browser", [ApiScopes.Monitor]);
        var sessionId = await sessions.CreateAsync(key);
        Assert.That((await sessions.FindAsync(sessionId))?.KeyHash, Is.Not.Null);

        await sessions.DeleteAsync(sessionId);

        Assert.That(await sessions.FindAsync(sessionId), Is.Null);
        Assert.That((await redis.Database.StreamRangeAsync(Revocations.Stream)).Select(e => (string?)e["session"]),
            Is.EqualTo(new[] { ApiKeySecret.Hash(sessionId) }), "the end is told to the other silos");
    }
}
