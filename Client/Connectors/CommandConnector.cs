using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Client.Connectors;

/// <summary>
/// Runs a shell command per job (<c>/bin/sh -c</c>, or <c>cmd /c</c> on Windows) with the job's payload JSON on
/// stdin. Its stdout speaks a small line protocol: <c>PROGRESS &lt;0-100&gt; [message]</c> reports progress and
/// <c>RESULT &lt;json&gt;</c> gives the result; without a RESULT line the other stdout lines become <c>{output}</c>.
/// A non-zero exit fails the job with <c>COMMAND_FAILED</c> and the last lines of stderr.
/// </summary>
public sealed class CommandConnector(string command, ConnectorContext context) : IJobConnector
{
    public const string FailureCode = "COMMAND_FAILED";
    private const int MaxOutputChars = 256 * 1024;
    private const int StderrLinesKept = 10;

    public async Task<JsonNode?> RunAsync(JobState job, IProgress<(double progress, string? message)> progress, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(job);
        ArgumentNullException.ThrowIfNull(progress);
        using var process = new Process { StartInfo = StartInfoFor(job) };
        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new JobFailedException(FailureCode, $"Could not start the command: {e.Message}", retryable: false);
        }

        try
        {
            var stdout = ReadStdoutAsync(process.StandardOutput, progress);
            var stderr = ReadTailAsync(process.StandardError);
            await WriteStdinAsync(process, job, cancellationToken).ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            // A background child that keeps stdout open would hold these past the exit; a revoke must still get through.
            var (result, output) = await stdout.WaitAsync(cancellationToken).ConfigureAwait(false);
            var errorTail = await stderr.WaitAsync(cancellationToken).ConfigureAwait(false);

            if (process.ExitCode != 0)
            {
                var detail = errorTail.Length > 0 ? $": {errorTail}" : "";
                throw new JobFailedException(FailureCode, $"The command exited with code {process.ExitCode}{detail}");
            }
            return result ?? new JsonObject { ["output"] = output };
        }
        catch (OperationCanceledException)
        {
            // The job was revoked or the worker is stopping: the command's children must not outlive it.
            KillTree(process);
            throw;
        }
    }

    private ProcessStartInfo StartInfoFor(JobState job)
    {
        var windows = OperatingSystem.IsWindows();
        var info = new ProcessStartInfo(windows ? "cmd.exe" : "/bin/sh")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(windows ? "/c" : "-c");
        info.ArgumentList.Add(command);
        info.Environment["CLUSTER_JOB_ID"] = job.Id;
        info.Environment["CLUSTER_JOB_TYPE"] = job.Type;
        info.Environment["CLUSTER_WORKER_ID"] = context.WorkerId;
        info.Environment["CLUSTER_GPU_INDEX"] = context.GpuIndex.ToString(CultureInfo.InvariantCulture);
        info.Environment["CUDA_VISIBLE_DEVICES"] = VisibleDevice(Environment.GetEnvironmentVariable("CUDA_VISIBLE_DEVICES"), context.GpuIndex);
        return info;
    }

    /// <summary>
    /// The device this worker's commands may see. When the agent itself was given a device list ("2,3"), the
    /// worker's index picks from it, so that worker 0 gets device 2 rather than a device outside the list.
    /// </summary>
    internal static string VisibleDevice(string? agentDevices, int gpuIndex)
    {
        var listed = agentDevices?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) ?? [];
        return gpuIndex < listed.Length ? listed[gpuIndex] : gpuIndex.ToString(CultureInfo.InvariantCulture);
    }

    private static async Task WriteStdinAsync(Process process, JobState job, CancellationToken cancellationToken)
    {
        try
        {
            var payload = (job.Payload ?? new JsonObject()).ToJsonString(ClusterJson.Options);
            await process.StandardInput.WriteLineAsync(payload.AsMemory(), cancellationToken).ConfigureAwait(false);
            await process.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            process.StandardInput.Close();
        }
        catch (IOException)
        {
            // The command exited or closed stdin without reading it all: that is its right.
        }
    }

    private static async Task<(JsonNode? Result, string Output)> ReadStdoutAsync(StreamReader stdout, IProgress<(double, string?)> progress)
    {
        JsonNode? result = null;
        var output = new StringBuilder();
        while (await stdout.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (TryParseProgress(line, out var update)) progress.Report(update);
            else if (line.StartsWith("RESULT ", StringComparison.Ordinal)) result = ParseResult(line["RESULT ".Length..]);
            else if (output.Length < MaxOutputChars) output.AppendLine(line);
        }
        return (result, output.ToString().TrimEnd('\n', '\r'));
    }

    internal static bool TryParseProgress(string line, out (double Progress, string? Message) update)
    {
        update = default;
        if (!line.StartsWith("PROGRESS ", StringComparison.Ordinal)) return false;
        var rest = line["PROGRESS ".Length..].Trim();
        var space = rest.IndexOf(' ', StringComparison.Ordinal);
        var number = space < 0 ? rest : rest[..space];
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value)) return false;
        var message = space < 0 ? null : rest[(space + 1)..].Trim();
        update = (Math.Clamp(value, 0, 100), string.IsNullOrEmpty(message) ? null : message);
        return true;
    }

    private static JsonNode? ParseResult(string json)
    {
        try
        {
            return JsonNode.Parse(json);
        }
        catch (JsonException e)
        {
            throw new JobFailedException("INVALID_RESULT", $"The command's RESULT line is not JSON: {e.Message}", retryable: false);
        }
    }

    private static async Task<string> ReadTailAsync(StreamReader stderr)
    {
        var tail = new Queue<string>();
        while (await stderr.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            tail.Enqueue(line.Length > 500 ? line[..500] : line);
            if (tail.Count > StderrLinesKept) tail.Dequeue();
        }
        return string.Join('\n', tail).Trim();
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // It had already exited.
        }
    }
}
