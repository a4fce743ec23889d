using Cluster.Grains.Streams;

namespace Cluster.Silo.Workers;

public static class WorkerServiceCollectionExtensions
{
    /// <summary>The worker gateway, the job dispatcher that pushes jobs to connected workers, and the lease sweeper.</summary>
    public static IServiceCollection AddWorkerGateway(this IServiceCollection services)
    {
        services.AddSingleton<StreamTails>();
        services.AddSingleton<JobDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<JobDispatcher>());
        services.AddHostedService<LeaseSweeper>();
        services.AddSingleton<WorkerGateway>();
        services.AddHostedService<Membership.SiloReporter>();
        return services;
    }
}
