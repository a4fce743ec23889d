using Cluster.Silo.Hosting;
using Microsoft.Extensions.Configuration;

namespace Cluster.UnitTests.Hosting;

public sealed class ConfigurationCheckTests
{
    private static ConfigurationCheck Check(params (string Key, string Value)[] values) =>
        ConfigurationCheck.Run(new ConfigurationBuilder()
            .AddInMemoryCollection(values.Select(v => new KeyValuePair<string, string?>(v.Key, v.Value)))
            .Build());

    [Test]
    public void No_configuration_at_all_is_valid() => Assert.That(Check().Problem, Is.Null);

    [Test]
    public void A_value_of_the_wrong_type_is_named_in_the_problem() =>
        Assert.That(Check(("Cluster:MaxRequestBytes", "lots")).Problem, Does.Contain("Cluster:MaxRequestBytes"));

    [TestCase("Cluster:MaxRequestBytes", "0")]
    [TestCase("RateLimit:PermitsPerSecond", "-1")]
    [TestCase("Auth:SessionLifetime", "-00:10:00")]
    [TestCase("Cluster:DataDir", " ")]
    public void An_out_of_range_value_is_a_problem(string key, string value) =>
        Assert.That(Check((key, value)).Problem, Is.Not.Null);

    [Test]
    public void The_Orleans_dashboard_is_off_unless_it_is_turned_on()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(Check().OrleansHost.Dashboard, Is.False);
            Assert.That(Check(("Orleans:Dashboard", "true")).OrleansHost.Dashboard, Is.True);
        }
    }

    [Test]
    public void A_dashboard_setting_that_is_not_a_boolean_is_named_and_leaves_the_dashboard_off()
    {
        var check = Check(("Orleans:Dashboard", "yes please"));
        using (Assert.EnterMultipleScope())
        {
            Assert.That(check.Problem, Does.Contain("Orleans:Dashboard"));
            Assert.That(check.OrleansHost.Dashboard, Is.False);
        }
    }

    [Test]
    public void A_problem_becomes_a_startup_error() =>
        Assert.That(() => Check(("RateLimit:Burst", "-5")).ThrowIfInvalid(), Throws.TypeOf<SiloStartupException>());
}
