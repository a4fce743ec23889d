using System.Collections.Concurrent;
using System.Diagnostics;

namespace Cluster.Testing;

/// <summary>A real machine agent (<c>cluster agent …</c>) in a process of its own, with its output captured.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly ConcurrentQueue<string> _output = new();

    private AgentProcess(Process process) => _process = process;

    public static string AgentAssemblyPath { get; } = BuiltAssembly.Find("Client", "cluster.dll", "CLUSTER_CLIENT_DLL");

    public int ProcessId => _process.Id;
    public bool HasExited => _process.HasExited;
    public string Transcript() => string.Join('\n', _output);

    /// <summary>Starts <c>cluster agent --machine-id … --gpus … --silo … --api-key …</c> plus <paramref name="arguments"/>.</summary>
    public static AgentProcess Start(SiloProcess silo, string apiKey, string machineId, int gpus, params string[] arguments)
    {
        var start = new ProcessStartInfo(SiloProcess.DotnetExecutable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { AgentAssemblyPath, "agent", "--machine-id", machineId, "--gpus", gpus.ToString(System.Globalization.CultureInfo.InvariantCulture), "--silo", silo.BaseAddress.ToString(), "--api-key", apiKey })
            start.ArgumentList.Add(arg);
        foreach (var arg in arguments) start.ArgumentList.Add(arg);
        foreach (var name in new[] { "MACHINE_ID", "NUM_GPUS", "CLUSTER_URL", "CLUSTER_API_KEY" }) start.Environment.Remove(name);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var agent = new AgentProcess(process);
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) agent._output.Enqueue(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) agent._output.Enqueue(e.Data); };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return agent;
    }

    /// <summary>SIGKILL: the agent gets no chance to hand its jobs back.</summary>
    public void KillHard() => ProcessTools.Signal(_process.Id, ProcessTools.SigKill);

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            ProcessTools.Signal(_process.Id, ProcessTools.SigTerm);
            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token);
            }
            catch (OperationCanceledException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync();
            }
        }
        _process.Dispose();
    }
}
