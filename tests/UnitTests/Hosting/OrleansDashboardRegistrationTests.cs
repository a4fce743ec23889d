using Cluster.Silo.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Serialization.Configuration;

namespace Cluster.UnitTests.Hosting;

/// <summary>What the silo's services hold with <c>Orleans:Dashboard</c> off and on, read from the registrations alone (nothing starts).</summary>
public sealed class OrleansDashboardRegistrationTests
{
    private static IServiceCollection SiloServices(params (string Key, string Value)[] settings)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(settings.Select(s => new KeyValuePair<string, string?>(s.Key, s.Value)));
        builder.AddClusterDefaults();
        return builder.Services;
    }

    /// <summary>
    /// A service of the dashboard's. Not its type metadata: Orleans registers that for every referenced assembly with
    /// grains or serializable types, whatever the setting, and it does nothing until one of those types is used.
    /// </summary>
    private static bool FromTheDashboard(ServiceDescriptor service) =>
        (service.ImplementationType ?? service.ServiceType).Assembly.GetName().Name == "Orleans.Dashboard"
        && service.ServiceType != typeof(IConfigureOptions<TypeManifestOptions>);

    [Test]
    public void Off_by_default_no_grain_call_filter_and_nothing_else_of_the_dashboard_is_registered()
    {
        var services = SiloServices();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(services.Where(s => s.ServiceType == typeof(IIncomingGrainCallFilter)), Is.Empty);
            Assert.That(services.Where(FromTheDashboard), Is.Empty);
        }
    }

    [Test]
    public void On_the_dashboard_adds_its_grain_call_filter()
    {
        var services = SiloServices(("Orleans:Dashboard", "true"));
        var filters = services.Where(s => s.ServiceType == typeof(IIncomingGrainCallFilter)).ToList();
        using (Assert.EnterMultipleScope())
        {
            Assert.That(filters.Select(f => f.ImplementationType?.Assembly.GetName().Name), Is.EqualTo(new[] { "Orleans.Dashboard" }));
            Assert.That(services.Count(FromTheDashboard), Is.GreaterThan(5), "its hosted service, grain service, profiler, client…");
        }
    }
}
