using Cluster.Grains.Interfaces;
using Cluster.Silo.Auth;
using Orleans.Dashboard;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Orleans' own dashboard (Microsoft.Orleans.Dashboard: grain and silo statistics, reminders, grain state) under the
/// silo's URL at <see cref="Path"/>, for admin keys and sessions only, when <c>Orleans:Dashboard</c> is true. When it
/// is false nothing of it is registered: no grain-call filter, no grain service, no routes (the path answers 404).
/// </summary>
public static class OrleansDashboard
{
    /// <summary>Where the dashboard is mapped; <c>/orleans-dashboard</c> redirects to <c>/orleans-dashboard/</c>, its page.</summary>
    public const string Path = "/orleans-dashboard";

    /// <summary>
    /// The dashboard's services in the silo: its grains' dependencies, a grain service per silo, a hosted service, and an
    /// incoming grain-call filter that times every call while someone has the dashboard open (and checks a flag otherwise).
    /// </summary>
    public static ISiloBuilder AddClusterDashboard(this ISiloBuilder silo) =>
        // The log stream would be empty: the silo logs through Serilog alone (secrets masked), which does not feed the
        // dashboard's logger provider, so its page is turned off rather than left showing nothing.
        silo.AddDashboard(options => options.HideTrace = true);

    /// <summary>The dashboard's page, assets and JSON endpoints at <see cref="Path"/>, if it was added; 401 without a key, 403 without <c>admin</c>.</summary>
    public static WebApplication MapClusterDashboard(this WebApplication app)
    {
        if (app.Services.GetRequiredService<ConfigurationCheck>().OrleansHost.Dashboard)
            app.MapOrleansDashboard(Path).RequireScope(ApiScopes.Admin);
        return app;
    }
}
