using Cluster.Client.Cli;

using var shutdown = new ShutdownSignal();
return await CliApp.RunAsync(args, CliEnvironment.FromProcess(), shutdown.Token);
