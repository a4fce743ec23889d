using Cluster.Benchmarks;

// Each benchmark is a subcommand: `dotnet run -c Release --project tests/Benchmarks -- <name> [options]`.
return args.FirstOrDefault() switch
{
    "claims" => await ClaimBenchmark.RunAsync(args[1..]),
    "pending-index" => await PendingIndexBenchmark.RunAsync(args[1..]),
    "throughput" => await ThroughputBenchmark.RunAsync(args[1..]),
    "grain-calls" => await GrainCallBenchmark.RunAsync(args[1..]),
    "grain-calls-silo" => await GrainCallBenchmark.ServeAsync(args[1..]), // one silo of grain-calls, started by it
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tests/Benchmarks -- <benchmark> [options]

        benchmarks:
          claims  the cost of one claim through the job queue grain at growing backlogs, 1 % of which match the worker
                  [backlog …] (default 1000 100000 1000000)
          pending-index  the same question of the in-memory index a job queue grain will hold, no Redis
                  [backlog …] (default 1000 100000 1000000)
          throughput  end to end submit → claim → complete with 32 WebSocket workers, against BullMQ
                  on the same redis-server with concurrency 32, each after an untimed warm-up round
                  [jobs 10000] [workers 32] [warm-up jobs 20000]
          grain-calls  no-op grain calls/s in an in-process silo without Microsoft.Orleans.Dashboard, with it
                  idle and with it watched, and the ratios   [--calls 200000] [--callers 16] [--rounds 10] [--bare]
        """);
    return 2;
}
