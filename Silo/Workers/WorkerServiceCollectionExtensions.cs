using Cluster.Grains;
using Cluster.Grains.Streams;

namespace Cluster.Silo.Workers;

public static class WorkerServiceCollectionExtensions
{
    /// <summary>The worker gateway and the job dispatcher that pushes jobs to connected workers.</summary>
    public static IServiceCollection AddWorkerGateway(this IServiceCollection services)
    {
        services.AddSingleton<StreamTails>();
        services.AddSingleton<JobDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<JobDispatcher>());
        services.AddSingleton<WorkerGateway>();
        services.AddHostedService<Membership.SiloReporter>();
        return services;
    }
}
