using Cluster.Grains.Interfaces;
using Cluster.Silo.Auth;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace Cluster.IntegrationTests.Auth;

public sealed class ApiKeyStoreTests : RedisServerTest
{
    private ApiKeyStore _store = null!;

    [SetUp]
    public async Task FreshStore()
    {
        await RedisServer.FlushAsync();
        _store = new ApiKeyStore(RedisServer.Multiplexer, Options.Create(new AuthOptions()));
    }

    [TearDown]
    public void DisposeStore() => _store.Dispose();

    [Test]
    public async Task A_created_key_is_found_by_its_plaintext_with_its_name_and_scopes()
    {
        var (key, created) = await _store.CreateAsync("ci", [ApiScopes.Submit, ApiScopes.Monitor]);

        var found = await _store.FindByKeyAsync(key);

        Assert.That(found, Is.Not.Null);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(found!.Name, Is.EqualTo("ci"));
            Assert.That(found.Scopes, Is.EqualTo(new[] { "submit", "monitor" }));
            Assert.That(found.Hash, Is.EqualTo(created.Hash));
            Assert.That(await _store.FindByKeyAsync(key + "x"), Is.Null);
        }
    }

    [Test]
    public async Task Redis_never_holds_a_key_in_plaintext()
    {
        var (key, _) = await _store.CreateAsync("secretive", [ApiScopes.Admin]);

        var redis = RedisServer.Database;
        var names = ((string[])(await redis.ExecuteAsync("KEYS", "*"))!).ToList();
        var values = new List<string>();
        foreach (var name in names)
        {
            var content = await redis.KeyTypeAsync(name) == RedisType.Hash
                ? (await redis.HashGetAllAsync(name)).SelectMany(e => new[] { e.Name.ToString(), e.Value.ToString() })
                : (await redis.SetMembersAsync(name)).Select(m => m.ToString());
            values.AddRange(content);
        }

        Assert.That(names.Concat(values), Has.None.Contain(key));
        Assert.That(names, Does.Contain("apikey:" + ApiKeySecret.Hash(key)).And.Contain("apikeys"));
    }

    [Test]
    public async Task Storing_a_known_key_again_keeps_its_creation_time_and_updates_its_scopes()
    {
        var first = await _store.StoreAsync("bootstrap-secret-key", "bootstrap", [ApiScopes.Monitor]);

        var second = await _store.StoreAsync("bootstrap-secret-key", "bootstrap", [ApiScopes.Admin]);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(second.CreatedAt, Is.EqualTo(first.CreatedAt));
            Assert.That(second.Scopes, Is.EqualTo(new[] { "admin" }));
            Assert.That(await _store.ListAsync(), Has.Count.EqualTo(1));
        }
    }

    [Test]
    public async Task A_key_can_be_deleted_by_its_id_or_by_its_visible_prefix()
    {
        var (byIdKey, byId) = await _store.CreateAsync("one", [ApiScopes.Worker]);
        var (byPrefixKey, byPrefix) = await _store.CreateAsync("two", [ApiScopes.Worker]);

        var deletedById = await _store.DeleteAsync(byId.Id);
        var deletedByPrefix = await _store.DeleteAsync(byPrefix.Prefix);

        using (Assert.EnterMultipleScope())
        {
            Assert.That(deletedById.Outcome, Is.EqualTo(ApiKeyDeletion.Deleted));
            Assert.That(deletedByPrefix.Outcome, Is.EqualTo(ApiKeyDeletion.Deleted));
            Assert.That(await _store.FindByKeyAsync(byIdKey), Is.Null);
            Assert.That(await _store.FindByKeyAsync(byPrefixKey), Is.Null);
            Assert.That(await _store.ListAsync(), Is.Empty);
        }
    }

    [Test]
    public async Task Deleting_by_something_that_matches_several_keys_deletes_nothing()
    {
        await _store.StoreAsync("same-prefix-key-number-one", "a", [ApiScopes.Submit]);
        await _store.StoreAsync("same-prefix-key-number-two", "b", [ApiScopes.Submit]);

        var (outcome, _) = await _store.DeleteAsync("same-p");

        Assert.That(outcome, Is.EqualTo(ApiKeyDeletion.Ambiguous));
        Assert.That(await _store.ListAsync(), Has.Count.EqualTo(2));
    }

    [Test]
    public async Task Too_short_a_hash_prefix_does_not_match()
    {
        var (_, record) = await _store.CreateAsync("guarded", [ApiScopes.Submit]);

        var (outcome, _) = await _store.DeleteAsync(record.Hash[..4]);

        Assert.That(outcome, Is.EqualTo(ApiKeyDeletion.NotFound));
    }
}
