using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Storage;

namespace Cluster.Grains.Storage;

public static class OutboxStorageSiloBuilderExtensions
{
    /// <summary>
    /// Adds an <see cref="OutboxGrainStorage"/> named <paramref name="name"/>. The silo must register an
    /// <c>IConnectionMultiplexer</c> and the Redis stream provider the options name.
    /// </summary>
    public static ISiloBuilder AddOutboxGrainStorage(this ISiloBuilder builder, string name, Action<OutboxStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Services.AddOptions<OutboxStorageOptions>(name);
        if (configure is not null) options.Configure(configure);
        // What Orleans' AddGrainStorage registers for a storage that takes no part in the silo's lifecycle.
        builder.Services.AddKeyedSingleton<IGrainStorage>(name, (services, _) =>
            ActivatorUtilities.CreateInstance<OutboxGrainStorage>(services, name,
                services.GetRequiredService<IOptionsMonitor<OutboxStorageOptions>>().Get(name)));
        return builder;
    }
}
