using Cluster.Silo.Api;
using Cluster.Silo.Auth;
using Cluster.Silo.Gateway;
using Cluster.Silo.Webhooks;
using Cluster.Silo.Workers;

namespace Cluster.Silo.Hosting;

public static class ClusterEndpoints
{
    /// <summary>
    /// The one place where the silo's endpoints are mapped. Feature areas add their own <c>MapXxx()</c> here;
    /// protect them with <c>.RequireScope(ApiScopes.Submit)</c> and friends.
    /// </summary>
    public static WebApplication MapClusterEndpoints(this WebApplication app)
    {
        app.MapClusterHealth();
        app.MapClusterMetrics();
        app.MapClusterDashboard();
        app.MapApiKeyEndpoints();
        app.MapSessionEndpoints();
        app.MapUserEndpoints();
        app.MapUsage();
        app.MapWhoAmI();
        app.MapJobApi();
        app.MapWorkflowApi();
        app.MapFleetApi();
        app.MapWebhookApi();
        WorkerGateway.Map(app);
        GatewayEndpoint.Map(app);

        // Routes win over this fallback whatever order they are mapped in.
        app.MapApiFallback();
        return app;
    }
}
