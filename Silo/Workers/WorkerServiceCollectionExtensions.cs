using Cluster.Grains;
using Cluster.Grains.Streams;

namespace Cluster.Silo.Workers;

public static class WorkerServiceCollectionExtensions
{
    /// <summary>
    /// The worker gateway, the job dispatcher that pushes jobs to connected workers, and, for the Lua engine, the lease
    /// sweeper (the Orleans engine's sweeper is a grain, started with the silo).
    /// </summary>
    public static IServiceCollection AddWorkerGateway(this IServiceCollection services, string engine)
    {
        services.AddSingleton<StreamTails>();
        services.AddSingleton<JobDispatcher>();
        services.AddHostedService(sp => sp.GetRequiredService<JobDispatcher>());
        if (engine == Engines.Lua) services.AddHostedService<LeaseSweeper>();
        services.AddSingleton<WorkerGateway>();
        services.AddHostedService<Membership.SiloReporter>();
        return services;
    }
}
