using System.Globalization;

namespace Cluster.Client.Agent;

/// <summary>Which connector the agent's workers run jobs with, and its options.</summary>
public sealed record ConnectorSettings
{
    public string Kind { get; init; } = "simulation";
    public TimeSpan SimulationDuration { get; init; } = TimeSpan.FromSeconds(2);
    public double SimulationFailureRate { get; init; }
    public string? Command { get; init; }
    public Uri? Url { get; init; }
    public TimeSpan HttpTimeout { get; init; } = TimeSpan.FromSeconds(300);
}

/// <summary>Everything a machine agent needs, resolved from its options and the environment and checked.</summary>
public sealed record AgentSettings
{
    public required Uri Silo { get; init; }
    /// <summary>Further silos of the same cluster; a worker that cannot reach its silo tries the next in turn.</summary>
    public IReadOnlyList<Uri> FailoverSilos { get; init; } = [];
    public required string ApiKey { get; init; }
    public required string MachineId { get; init; }
    public required int GpuCount { get; init; }
    public int Concurrency { get; init; } = 1;
    public double GpuMemory { get; init; }
    public IReadOnlyList<string> ModelTypes { get; init; } = [];
    public IReadOnlyList<string> Capabilities { get; init; } = [];
    public string Pool { get; init; } = "standard";
    public TimeSpan DrainTimeout { get; init; } = TimeSpan.FromSeconds(30);
    public required ConnectorSettings Connector { get; init; }

    public const int MaxGpus = 64;
    public static readonly IReadOnlySet<string> Pools = new HashSet<string>(StringComparer.Ordinal) { "fast-lane", "standard", "heavy" };
    public static readonly IReadOnlySet<string> ConnectorKinds = new HashSet<string>(StringComparer.Ordinal) { "simulation", "command", "http" };

    /// <summary>Every silo a worker may connect to, <see cref="Silo"/> first.</summary>
    public IReadOnlyList<Uri> Silos => [Silo, .. FailoverSilos];

    /// <summary>One worker per GPU: <c>{machine}-gpu{i}</c>.</summary>
    public IReadOnlyList<string> WorkerIds => Enumerable.Range(0, GpuCount).Select(i => WorkerIdFor(MachineId, i)).ToList();

    public static string WorkerIdFor(string machineId, int gpuIndex) => $"{machineId}-gpu{gpuIndex.ToString(CultureInfo.InvariantCulture)}";

    /// <summary>
    /// The machine id from the option or <c>MACHINE_ID</c>. Missing or <c>unknown</c> is refused: seed 002's workers
    /// reported <c>unknown</c> and fell off their machine in the monitor; an agent that cannot name its machine must not start.
    /// </summary>
    public static string ResolveMachineId(string? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        var id = (string.IsNullOrWhiteSpace(option) ? environment("MACHINE_ID") : option)?.Trim();
        if (string.IsNullOrEmpty(id))
            throw new AgentConfigurationException("No machine id: pass --machine-id or set MACHINE_ID.");
        if (string.Equals(id, "unknown", StringComparison.OrdinalIgnoreCase))
            throw new AgentConfigurationException("The machine id \"unknown\" is refused: pass the machine's real id with --machine-id or MACHINE_ID.");
        if (id.Length > 100 || id.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new AgentConfigurationException($"The machine id \"{id}\" must be at most 100 characters without spaces.");
        return id;
    }

    /// <summary>
    /// The GPU count from the option, else <c>NUM_GPUS</c>, else 1. Seed 002's workers ignored NUM_GPUS and started
    /// two workers on a four-GPU machine; here the one number decides how many workers run.
    /// </summary>
    public static int ResolveGpuCount(int? option, Func<string, string?> environment)
    {
        ArgumentNullException.ThrowIfNull(environment);
        int count;
        if (option is { } given) count = given;
        else if (environment("NUM_GPUS") is { } text && !string.IsNullOrWhiteSpace(text))
        {
            if (!int.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out count))
                throw new AgentConfigurationException($"NUM_GPUS is \"{text}\", not a whole number.");
        }
        else count = 1;
        if (count is < 1 or > MaxGpus)
            throw new AgentConfigurationException($"The GPU count must be between 1 and {MaxGpus}; it is {count}.");
        return count;
    }

    /// <summary>Checks the settings that do not depend on the environment; throws <see cref="AgentConfigurationException"/>.</summary>
    public void Validate()
    {
        if (Concurrency is < 1 or > 64) throw new AgentConfigurationException($"--concurrency must be between 1 and 64; it is {Concurrency}.");
        if (GpuMemory < 0) throw new AgentConfigurationException("--gpu-memory must not be negative.");
        if (!Pools.Contains(Pool)) throw new AgentConfigurationException($"--pool must be one of {string.Join(", ", Pools)}; it is \"{Pool}\".");
        if (!ConnectorKinds.Contains(Connector.Kind))
            throw new AgentConfigurationException($"--connector must be one of {string.Join(", ", ConnectorKinds)}; it is \"{Connector.Kind}\".");
        switch (Connector.Kind)
        {
            case "simulation" when Connector.SimulationFailureRate is < 0 or > 1 || double.IsNaN(Connector.SimulationFailureRate):
                throw new AgentConfigurationException("--sim-failure-rate must be between 0 and 1.");
            case "simulation" when Connector.SimulationDuration < TimeSpan.Zero:
                throw new AgentConfigurationException("--sim-duration-ms must not be negative.");
            case "command" when string.IsNullOrWhiteSpace(Connector.Command):
                throw new AgentConfigurationException("The command connector needs --command \"program args\".");
            case "http" when Connector.Url is null || Connector.Url.Scheme is not ("http" or "https"):
                throw new AgentConfigurationException("The http connector needs --url with an http(s) address.");
            case "http" when Connector.HttpTimeout <= TimeSpan.Zero:
                throw new AgentConfigurationException("--http-timeout-s must be positive.");
        }
    }
}

/// <summary>The agent's options make no sense; it stops with exit code 2 before connecting.</summary>
public sealed class AgentConfigurationException(string message) : Exception(message);
