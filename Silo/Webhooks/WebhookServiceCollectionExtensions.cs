namespace Cluster.Silo.Webhooks;

public static class WebhookServiceCollectionExtensions
{
    /// <summary>
    /// Webhook delivery: the <c>Webhooks</c> options, the consumer that turns events into queued deliveries,
    /// and the sender that POSTs them. Map the routes with <see cref="WebhookApi.MapWebhookApi"/>.
    /// </summary>
    public static IServiceCollection AddWebhooks(this IServiceCollection services, IConfiguration configuration)
    {
        services.AddOptions<WebhookOptions>().Bind(configuration.GetSection(WebhookOptions.Section));
        services.AddSingleton<WebhookSecret>();
        services.AddSingleton<WebhookStore>();
        services.AddSingleton<WebhookSender>();
        services.AddHostedService<WebhookConsumer>();
        services.AddHostedService(sp => sp.GetRequiredService<WebhookSender>());
        return services;
    }
}
