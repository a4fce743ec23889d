using Cluster.Silo.Auth;

namespace Cluster.UnitTests.Auth;

public sealed class ApiKeySecretTests
{
    [Test]
    public void Generated_keys_are_distinct_recognisable_and_safe_in_a_query_string()
    {
        var keys = Enumerable.Range(0, 100).Select(_ => ApiKeySecret.Generate()).ToList();

        using (Assert.EnterMultipleScope())
        {
            Assert.That(keys, Is.Unique);
            Assert.That(keys, Is.All.StartWith(ApiKeySecret.GeneratedPrefix));
            Assert.That(keys, Is.All.Matches<string>(k => k.Length == 46 && k.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-')));
        }
    }

    [Test]
    public void The_stored_hash_is_the_lower_case_hex_SHA_256_of_the_key() =>
        Assert.That(ApiKeySecret.Hash("abc"), Is.EqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));

    [TestCase("ck_0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJ", "ck_0123456")]
    [TestCase("short-hand-key16", "shor")]
    [TestCase("abc", "")]
    public void The_visible_prefix_is_at_most_ten_characters_and_a_quarter_of_the_key(string key, string prefix) =>
        Assert.That(ApiKeySecret.VisiblePrefix(key), Is.EqualTo(prefix));
}
