namespace Cluster.Silo.Gateway;

public static class GatewayServiceCollectionExtensions
{
    /// <summary>The gateway protocol on <c>/ws</c>: the event hub and its endpoint (limits from the <c>Gateway</c> section).</summary>
    public static IServiceCollection AddGateway(this IServiceCollection services)
    {
        services.AddOptions<GatewayOptions>().BindConfiguration(GatewayOptions.Section);
        services.AddSingleton<EventHub>();
        services.AddSingleton<GatewayEndpoint>();
        return services;
    }
}
