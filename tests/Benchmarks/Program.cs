using Cluster.Benchmarks;

// Each benchmark is a subcommand: `dotnet run -c Release --project tests/Benchmarks -- <name> [options]`.
return args.FirstOrDefault() switch
{
    "redis" => await RedisClientBenchmark.RunAsync(args[1..]),
    "claims" => await ClaimBenchmark.RunAsync(args[1..]),
    "pending-index" => await PendingIndexBenchmark.RunAsync(args[1..]),
    "throughput" => await ThroughputBenchmark.RunAsync(args[1..]),
    "functions" => await FunctionsBenchmark.RunAsync(args[1..]),
    "grain-calls" => await GrainCallBenchmark.RunAsync(args[1..]),
    "grain-calls-silo" => await GrainCallBenchmark.ServeAsync(args[1..]), // one silo of grain-calls, started by it
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tests/Benchmarks -- <benchmark> [options]

        benchmarks:
          redis   the RESP client against redis-benchmark: SET and GET, same connections and pipeline depth
                  [--connections 4] [--pipeline 32] [--requests 1000000] [--rounds 3]
          claims  the cost of one claim at growing backlogs, 1 % of which match the worker
                  [backlog …] (default 1000 100000 1000000)
          pending-index  the same question of the in-memory index a job queue grain will hold, no Redis
                  [backlog …] (default 1000 100000 1000000)
          throughput  end to end submit → claim → complete with 32 WebSocket workers, against BullMQ
                  on the same redis-server with concurrency 32, each after an untimed warm-up round
                  [jobs 10000] [workers 32] [warm-up jobs 20000]
          functions  redis-server's time per call of job_submit, job_claim and job_complete, against an
                  empty function   [jobs 10000]
          grain-calls  no-op grain calls/s in an in-process silo without Microsoft.Orleans.Dashboard, with it
                  idle and with it watched, and the ratios   [--calls 200000] [--callers 16] [--rounds 10] [--bare]
        """);
    return 2;
}
