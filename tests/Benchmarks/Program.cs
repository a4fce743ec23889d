using Cluster.Benchmarks;

// Each benchmark is a subcommand: `dotnet run -c Release --project tests/Benchmarks -- <name> [options]`.
return args.FirstOrDefault() switch
{
    "redis" => await RedisClientBenchmark.RunAsync(args[1..]),
    _ => Usage(),
};

static int Usage()
{
    Console.Error.WriteLine("""
        usage: dotnet run -c Release --project tests/Benchmarks -- <benchmark> [options]

        benchmarks:
          redis   the RESP client against redis-benchmark: SET and GET, same connections and pipeline depth
                  [--connections 4] [--pipeline 32] [--requests 1000000] [--rounds 3]
        """);
    return 2;
}
