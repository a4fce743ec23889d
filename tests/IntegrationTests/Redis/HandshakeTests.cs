using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

/// <summary>What the client does on connect: AUTH (or HELLO 3 AUTH), SELECT and CLIENT SETNAME.</summary>
public sealed class HandshakeTests
{
    private const string Password = "correct horse battery staple";
    private RedisFixture _redis = null!;

    [OneTimeSetUp]
    public async Task StartRedis() => _redis = await RedisFixture.StartAsync(s => s with { Password = Password });

    [OneTimeTearDown]
    public ValueTask StopRedis() => _redis.DisposeAsync();

    [TestCase(2)]
    [TestCase(3)]
    public async Task The_password_option_authenticates(int protocol)
    {
        await using var client = await _redis.ConnectAsync(o => o with { Protocol = protocol });

        Assert.That((await client.ExecuteAsync("PING")).ToString(), Is.EqualTo("PONG"));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task A_user_and_password_authenticate_against_the_ACL(int protocol)
    {
        await _redis.Client.ExecuteAsync("ACL", "SETUSER", "worker", "on", ">worker-secret", "~*", "+@all");

        await using var client = await _redis.ConnectAsync(o => o with { User = "worker", Password = "worker-secret", Protocol = protocol });

        Assert.That((await client.ExecuteAsync("ACL", "WHOAMI")).ToString(), Is.EqualTo("worker"));
    }

    [TestCase(2)]
    [TestCase(3)]
    public void A_wrong_password_fails_with_a_clear_connection_error(int protocol)
    {
        Assert.That(() => _redis.ConnectAsync(o => o with { Password = "guessed-password-7", Protocol = protocol }),
            Throws.TypeOf<RedisConnectionException>()
                .With.Message.Contains("rejected the credentials")
                .And.Message.Contains("WRONGPASS")
                .And.Message.Not.Contains("guessed-password-7"));
    }

    [Test]
    public void A_missing_password_fails_with_a_clear_connection_error()
    {
        Assert.That(() => _redis.ConnectAsync(o => o with { Password = null }),
            Throws.TypeOf<RedisConnectionException>().With.Message.Contains("NOAUTH"));
    }

    [TestCase(2)]
    [TestCase(3)]
    public async Task The_database_option_puts_keys_in_that_database(int protocol)
    {
        await using var db3 = await _redis.ConnectAsync(o => o with { Database = 3, Protocol = protocol });

        await db3.ExecuteAsync("SET", "where", $"db3-resp{protocol}");

        Assert.That((await db3.ExecuteAsync("GET", "where")).ToString(), Is.EqualTo($"db3-resp{protocol}"));
        Assert.That((await _redis.Client.ExecuteAsync("GET", "where")).IsNull, Is.True, "database 0 does not see it");
        var clientInfo = (await db3.ExecuteAsync("CLIENT", "INFO")).ToString();
        Assert.That(clientInfo, Does.Contain(" db=3 "));
    }

    [Test]
    public async Task The_name_option_names_the_connection()
    {
        await using var client = await _redis.ConnectAsync(o => o with { ClientName = "silo-7" });

        Assert.That((await client.ExecuteAsync("CLIENT", "GETNAME")).ToString(), Is.EqualTo("silo-7"));
    }
}
