using Cluster.Grains;
using Cluster.Silo.Gateway;
using Cluster.Silo.Workers;
using Cluster.Silo.Api;
using Cluster.Silo.Auth;
using Cluster.Silo.Webhooks;

namespace Cluster.Silo.Hosting;

/// <summary>Everything a silo needs besides its feature endpoints: configuration, logging, Redis, telemetry, health, auth, limits.</summary>
public static class ClusterDefaults
{
    public static WebApplicationBuilder AddClusterDefaults(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        var check = ConfigurationCheck.Run(builder.Configuration);
        services.AddSingleton(check);
        builder.AddClusterLogging(check);

        services.AddOptions<ClusterOptions>().BindConfiguration(ClusterOptions.Section);
        services.AddOptions<RedisHostOptions>().BindConfiguration(RedisHostOptions.Section);
        services.AddOptions<AuthOptions>().BindConfiguration(AuthOptions.Section);
        services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section);

        if (check.Problem is null)
        {
            var cluster = check.Cluster;
            builder.WebHost.ConfigureKestrel(kestrel => kestrel.Limits.MaxRequestBodySize = cluster.MaxRequestBytes);
            services.Configure<HostOptions>(host => host.ShutdownTimeout = cluster.ShutdownTimeout);
        }

        services.AddSingleton<SiloRedis>();
        // Before the services that call grains, so that the silo has started when they start.
        builder.AddClusterOrleans(dashboard: check.OrleansHost.Dashboard);
        services.AddSingleton(sp => sp.GetRequiredService<SiloRedis>().Multiplexer);
        services.AddSingleton<SiloStartup>();

        builder.AddClusterTelemetry();

        services.AddClusterGrains(builder.Configuration);
        services.AddWorkerGateway();
        services.AddGateway();
        services.AddClusterHealthChecks();
        services.AddClusterAuth();
        services.AddClusterRateLimiting();
        services.AddWebhooks(builder.Configuration);
        return builder;
    }

    /// <summary>The middleware, in the order it must run: request logging and errors outermost (so the log has the status the caller got), then files, routing, who is calling, how often, and whether they may.</summary>
    public static WebApplication UseClusterDefaults(this WebApplication app)
    {
        app.UseClusterRequestLogging();
        app.UseMiddleware<ApiErrorMiddleware>();
        app.UseApiStatusCodePages();
        app.UseDefaultFiles();
        app.UseStaticFiles();
        app.UseRouting();
        app.UseWebSockets(new WebSocketOptions { KeepAliveInterval = TimeSpan.FromSeconds(15) });
        app.UseAuthentication();
        app.UseKeyRateLimits();
        app.UseRateLimiter();
        app.UseAuthorization();
        return app;
    }
}
