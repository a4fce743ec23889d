using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Validation;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace Cluster.Grains;

public static class GrainServiceCollectionExtensions
{
    /// <summary>
    /// Registers the grain factory (timings from the <c>Jobs</c> section), the workflow bounds (the
    /// <c>Workflows</c> section) and the job type catalog
    /// (seed 001's defaults plus the <c>JobTypes</c> section: name → {description, schema}).
    /// Needs a StackExchange.Redis <see cref="IConnectionMultiplexer"/> registered, and an Orleans silo or client.
    /// </summary>
    public static IServiceCollection AddClusterGrains(this IServiceCollection services, IConfiguration configuration)
    {
        var options = configuration.GetSection("Jobs").Get<ClusterGrainOptions>() ?? new ClusterGrainOptions();
        services.AddSingleton(options);
        services.AddSingleton(configuration.GetSection("Workflows").Get<Interfaces.Workflows.WorkflowOptions>() ?? new Interfaces.Workflows.WorkflowOptions());
        services.AddSingleton(sp => new GrainFactory(sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<IConnectionMultiplexer>(), options));
        services.AddOptions<TenantLimitOptions>().Bind(configuration.GetSection(TenantLimitOptions.Section));
        services.AddSingleton(JobTypeCatalog.Default.With(ReadJobTypes(configuration.GetSection("JobTypes"))));
        return services;
    }

    private static IEnumerable<JobType> ReadJobTypes(IConfigurationSection section)
    {
        foreach (var type in section.GetChildren())
        {
            var schemaJson = type["schema"];
            var schema = schemaJson is null ? new JsonObject { ["type"] = "object" } : JsonNode.Parse(schemaJson)!.AsObject();
            yield return new JobType(type.Key, type["description"] ?? "", schema);
        }
    }
}
