using Cluster.Grains.RedisServer;

namespace Cluster.UnitTests.RedisServer;

public sealed class RedisOptionsTests
{
    [Test]
    public void A_full_connection_string_sets_every_option()
    {
        var options = RedisOptions.Parse("redis.internal:6380, password=s3cret, user=silo, database=2, name=silo-1, timeout=2500, connecttimeout=900, protocol=3");

        Assert.Multiple(() =>
        {
            Assert.That(options.Host, Is.EqualTo("redis.internal"));
            Assert.That(options.Port, Is.EqualTo(6380));
            Assert.That(options.Password, Is.EqualTo("s3cret"));
            Assert.That(options.User, Is.EqualTo("silo"));
            Assert.That(options.Database, Is.EqualTo(2));
            Assert.That(options.ClientName, Is.EqualTo("silo-1"));
            Assert.That(options.CommandTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(2500)));
            Assert.That(options.ConnectTimeout, Is.EqualTo(TimeSpan.FromMilliseconds(900)));
            Assert.That(options.Protocol, Is.EqualTo(3));
        });
    }

    [Test]
    public void A_bare_host_gets_the_default_port_and_options()
    {
        var options = RedisOptions.Parse("localhost");

        Assert.That((options.Host, options.Port, options.Database, options.Protocol, options.Password), Is.EqualTo(("localhost", 6379, 0, 2, (string?)null)));
    }

    [Test]
    public void An_IPv6_host_in_brackets_is_understood()
    {
        var options = RedisOptions.Parse("[::1]:7000,db=1");

        Assert.That((options.Host, options.Port, options.Database), Is.EqualTo(("::1", 7000, 1)));
    }

    [Test]
    public void The_description_of_options_hides_the_password()
    {
        var options = RedisOptions.Parse("localhost:6379,password=s3cret");

        Assert.That(options.ToString(), Does.Not.Contain("s3cret"));
    }

    [TestCase("", "empty")]
    [TestCase("   ", "empty")]
    [TestCase("localhost:", "no valid port")]
    [TestCase("localhost:http", "no valid port")]
    [TestCase("localhost:70000", "no valid port")]
    [TestCase("localhost:0", "no valid port")]
    [TestCase(":6379", "no valid host")]
    [TestCase("local host:6379", "no valid host")]
    [TestCase("::1:6379", "brackets")]
    [TestCase("[::1:6379", "does not close")]
    [TestCase("password=x", "must start with host:port")]
    [TestCase("redis://localhost:6379", "not a URL")]
    [TestCase("localhost,verbose", "not key=value")]
    [TestCase("localhost,=3", "not key=value")]
    [TestCase("localhost,colour=blue", "Unknown Redis connection string option 'colour'")]
    [TestCase("localhost,database=-1", "'database=-1' must be a whole number from 0")]
    [TestCase("localhost,database=x", "whole number")]
    [TestCase("localhost,db=1,database=2", "sets 'database' twice")]
    [TestCase("localhost,timeout=0", "'timeout=0' must be a whole number from 1")]
    [TestCase("localhost,protocol=4", "'protocol=4' must be a whole number from 2 to 3")]
    [TestCase("localhost,password=", "has no value")]
    [TestCase("localhost,user=silo", "names a user but no password")]
    [TestCase("localhost,name=my silo", "cannot contain spaces")]
    public void A_malformed_connection_string_is_rejected_with_a_clear_message(string connectionString, string explanation)
    {
        Assert.That(() => RedisOptions.Parse(connectionString),
            Throws.TypeOf<RedisConfigurationException>().With.Message.Contains(explanation));
    }

    [Test]
    public void A_rejected_connection_string_does_not_echo_the_password()
    {
        Assert.That(() => RedisOptions.Parse("localhost,password=s3cret,colour"),
            Throws.TypeOf<RedisConfigurationException>().With.Message.Not.Contains("s3cret"));
    }
}
