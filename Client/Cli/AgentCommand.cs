using System.CommandLine;
using Cluster.Client.Agent;

namespace Cluster.Client.Cli;

/// <summary>
/// <c>cluster agent --machine-id M --gpus N --connector simulation|command|http …</c>: runs one worker per GPU on
/// this machine until Ctrl-C or SIGTERM.
/// </summary>
public sealed class AgentCommand
{
    private readonly GlobalOptions _global;
    private readonly CliEnvironment _environment;

    private readonly Option<string> _machineId = new("--machine-id") { Description = "This machine's id (default: MACHINE_ID); \"unknown\" is refused" };
    private readonly Option<int?> _gpus = new("--gpus") { Description = "GPUs, so workers, on this machine (default: NUM_GPUS, else 1)" };
    private readonly Option<string> _connector = new("--connector") { Description = "How jobs run", DefaultValueFactory = _ => "simulation" };
    private readonly Option<int> _concurrency = new("--concurrency") { Description = "Jobs each worker runs at once", DefaultValueFactory = _ => 1 };
    private readonly Option<double> _gpuMemory = new("--gpu-memory") { Description = "GB of memory per GPU, matched against jobs' gpu_memory (default 0)" };
    private readonly Option<string[]> _modelTypes = new("--model-types") { Description = "Model types the workers serve, comma-separated" };
    private readonly Option<string[]> _capabilities = new("--capabilities") { Description = "Capabilities the workers have, comma-separated" };
    private readonly Option<string> _pool = new("--pool") { Description = "fast-lane, standard or heavy", DefaultValueFactory = _ => "standard" };
    private readonly Option<int> _drainTimeout = new("--drain-timeout-s") { Description = "On stop, how long running jobs may finish before they are failed as retryable", DefaultValueFactory = _ => 30 };
    private readonly Option<int> _simDuration = new("--sim-duration-ms") { Description = "simulation: how long a job takes (a payload's duration_ms overrides)", DefaultValueFactory = _ => 2000 };
    private readonly Option<double> _simFailureRate = new("--sim-failure-rate") { Description = "simulation: the share of jobs that fail with SIMULATED_FAILURE, 0–1" };
    private readonly Option<string> _command = new("--command") { Description = "command: the shell command to run per job, payload on stdin" };
    private readonly Option<string> _url = new("--url") { Description = "http: the URL to POST each payload to" };
    private readonly Option<string[]> _failoverSilos = new("--failover-silo") { Description = "Another silo of the cluster, tried in turn when the current one cannot be reached; repeatable" };
    private readonly Option<int> _httpTimeout = new("--http-timeout-s") { Description = "http: how long a request may take", DefaultValueFactory = _ => 300 };

    private AgentCommand(GlobalOptions global, CliEnvironment environment)
    {
        _global = global;
        _environment = environment;
        _connector.AcceptOnlyFromAmong([.. AgentSettings.ConnectorKinds]);
        _pool.AcceptOnlyFromAmong([.. AgentSettings.Pools]);
        _modelTypes.AllowMultipleArgumentsPerToken = false;
        _capabilities.AllowMultipleArgumentsPerToken = false;
        _failoverSilos.AllowMultipleArgumentsPerToken = false;
    }

    public static Command Create(GlobalOptions global, CliEnvironment environment) => new AgentCommand(global, environment).Build();

    /// <summary>The settings an <c>agent</c> command line resolves to, without running anything (for tests and checks).</summary>
    internal static AgentSettings ResolveFromCommandLine(IReadOnlyList<string> agentArguments, CliEnvironment environment)
    {
        var global = new GlobalOptions(environment);
        var agent = new AgentCommand(global, environment);
        var root = new RootCommand { global.Silo, global.ApiKey, agent.Build() };
        var parse = root.Parse(["agent", .. agentArguments]);
        if (parse.Errors.Count > 0) throw new CliUsageException(string.Join("; ", parse.Errors.Select(e => e.Message)));
        return agent.ResolveSettings(parse);
    }

    private Command Build()
    {
        var command = new Command("agent", "Run this machine's workers, one per GPU")
        {
            _machineId, _gpus, _connector, _concurrency, _gpuMemory, _modelTypes, _capabilities, _pool, _drainTimeout,
            _simDuration, _simFailureRate, _command, _url, _httpTimeout, _failoverSilos,
        };
        command.SetAction((parse, cancellationToken) => new CommandRunner(_environment).RunAsync(async () =>
        {
            var settings = ResolveSettings(parse);
            var agent = new MachineAgent(settings, new AgentLog(_environment.Out));
            return await agent.RunAsync(cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    /// <summary>The agent's settings from its options and the environment; throws before anything connects when they are wrong.</summary>
    public AgentSettings ResolveSettings(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        var machineId = AgentSettings.ResolveMachineId(parse.GetValue(_machineId), _environment.Variable);
        var gpus = AgentSettings.ResolveGpuCount(parse.GetValue(_gpus), _environment.Variable);
        var url = parse.GetValue(_url);
        Uri? parsedUrl = null;
        if (url is not null && !Uri.TryCreate(url, UriKind.Absolute, out parsedUrl))
            throw new AgentConfigurationException($"--url \"{url}\" is not an absolute address.");

        var settings = new AgentSettings
        {
            Silo = _global.ResolveSilo(parse),
            // Silos after the first in --silo are failovers as much as those of --failover-silo.
            FailoverSilos = [.. _global.ResolveSilos(parse).Skip(1), .. SplitList(parse.GetValue(_failoverSilos)).Select(ParseSilo)],
            ApiKey = _global.ResolveApiKey(parse),
            MachineId = machineId,
            GpuCount = gpus,
            Concurrency = parse.GetValue(_concurrency),
            GpuMemory = parse.GetValue(_gpuMemory),
            ModelTypes = SplitList(parse.GetValue(_modelTypes)),
            Capabilities = SplitList(parse.GetValue(_capabilities)),
            Pool = parse.GetValue(_pool)!,
            DrainTimeout = TimeSpan.FromSeconds(Math.Max(0, parse.GetValue(_drainTimeout))),
            Connector = new ConnectorSettings
            {
                Kind = parse.GetValue(_connector)!,
                SimulationDuration = TimeSpan.FromMilliseconds(parse.GetValue(_simDuration)),
                SimulationFailureRate = parse.GetValue(_simFailureRate),
                Command = parse.GetValue(_command),
                Url = parsedUrl,
                HttpTimeout = TimeSpan.FromSeconds(parse.GetValue(_httpTimeout)),
            },
        };
        settings.Validate();
        return settings;
    }

    private static Uri ParseSilo(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && uri.Scheme is ("http" or "https")
            ? uri
            : throw new AgentConfigurationException($"--failover-silo must be an http(s) address; it is \"{text}\".");

    /// <summary>Accepts both <c>--capabilities a,b</c> and <c>--capabilities a --capabilities b</c>.</summary>
    private static IReadOnlyList<string> SplitList(string[]? values) =>
        (values ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            .Distinct(StringComparer.Ordinal).ToList();
}
