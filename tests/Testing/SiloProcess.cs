using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;

namespace Cluster.Testing;

/// <summary>
/// A real silo (<c>dotnet Cluster.Silo.dll</c>) in a process of its own, on a free loopback port (it binds
/// port 0 and announces the port it got, unless <see cref="SiloSettings.Port"/> fixes one), with the environment a test gives it and its output captured.
/// </summary>
public sealed partial class SiloProcess : IAsyncDisposable
{
    /// <summary>Set to <c>orleans</c> or <c>lua</c>, the engine every silo a test starts runs (<c>Cluster:Engine</c>); unset, the silo's default (<c>orleans</c>).</summary>
    public const string EngineVariable = "CLUSTER_TEST_ENGINE";

    public static readonly TimeSpan DefaultReadyDeadline = TimeSpan.FromSeconds(60);
    private const string ReadyPrefix = "Cluster silo ready: ";

    private readonly Process _process;
    private readonly bool _ownsDataDirectory;
    private readonly ConcurrentQueue<string> _stdout = new();
    private readonly ConcurrentQueue<string> _stderr = new();
    private readonly TaskCompletionSource<Uri> _announced = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private HttpClient? _http;

    private SiloProcess(Process process, string dataDirectory, bool ownsDataDirectory)
    {
        _process = process;
        DataDirectory = dataDirectory;
        _ownsDataDirectory = ownsDataDirectory;
    }

    public int ProcessId => _process.Id;
    public string DataDirectory { get; }
    public bool HasExited => _process.HasExited;
    public Uri BaseAddress => _announced.Task.IsCompletedSuccessfully ? _announced.Task.Result : throw new InvalidOperationException("The silo has not announced its address yet");
    public IReadOnlyList<string> StandardOutput => [.. _stdout];
    public IReadOnlyList<string> StandardError => [.. _stderr];

    /// <summary>An HTTP client for the silo's address, without credentials.</summary>
    public HttpClient Http => _http ??= new HttpClient { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    /// <summary>The pid in the embedded redis-server's pid file, if there is one.</summary>
    public int? EmbeddedRedisPid
    {
        get
        {
            var file = System.IO.Path.Combine(DataDirectory, "redis", "redis-server.pid");
            return File.Exists(file) && int.TryParse(File.ReadAllText(file).Trim(), out var pid) ? pid : null;
        }
    }

    /// <summary>Starts the process; it is not ready yet (see <see cref="WaitUntilReadyAsync"/>).</summary>
    public static SiloProcess Start(SiloSettings? settings = null)
    {
        settings ??= new SiloSettings();
        var ownsDataDirectory = settings.DataDirectory is null;
        var dataDirectory = settings.DataDirectory ?? System.IO.Path.Combine(System.IO.Path.GetTempPath(), "cluster-tests", "silo-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);

        var start = new ProcessStartInfo(DotnetExecutable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = dataDirectory,
        };
        start.ArgumentList.Add(SiloAssemblyPath);
        start.ArgumentList.Add("--urls");
        start.ArgumentList.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"http://127.0.0.1:{settings.Port ?? 0}"));

        // Nothing from the test runner's own environment may steer the silo.
        foreach (var name in start.Environment.Keys.ToList())
        {
            if (name.StartsWith("Redis__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("Auth__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("Cluster__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("RateLimit__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("Orleans__", StringComparison.OrdinalIgnoreCase)
                || name.StartsWith("Serilog__", StringComparison.OrdinalIgnoreCase) || name.StartsWith("OTEL_", StringComparison.Ordinal)
                || name is "ASPNETCORE_URLS" or "URLS" or "DOTNET_URLS")
                start.Environment.Remove(name);
        }
        start.Environment["Cluster__DataDir"] = dataDirectory;
        // The one setting the runner may pass on: which engine every silo of the run uses (see test.sh).
        if (Environment.GetEnvironmentVariable(EngineVariable) is { Length: > 0 } engine) start.Environment["Cluster__Engine"] = engine;
        if (settings.RedisConnectionString is not null) start.Environment["Redis__ConnectionString"] = settings.RedisConnectionString;
        if (settings.BootstrapApiKey is not null) start.Environment["Auth__BootstrapApiKey"] = settings.BootstrapApiKey;
        if (settings.Path is not null) start.Environment["PATH"] = settings.Path;
        foreach (var (name, value) in settings.Environment) start.Environment[name] = value;

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var silo = new SiloProcess(process, dataDirectory, ownsDataDirectory);
        process.OutputDataReceived += (_, e) => silo.OnOutput(e.Data);
        process.ErrorDataReceived += (_, e) => silo.OnError(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return silo;
    }

    /// <summary>Starts a silo and waits until <c>/health/ready</c> answers 200.</summary>
    public static async Task<SiloProcess> StartReadyAsync(SiloSettings? settings = null, TimeSpan? deadline = null)
    {
        var silo = Start(settings);
        try
        {
            await silo.WaitUntilReadyAsync(deadline ?? DefaultReadyDeadline).ConfigureAwait(false);
            return silo;
        }
        catch
        {
            await silo.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Waits for the silo to announce its address and then for <c>/health/ready</c> to answer 200.</summary>
    public async Task WaitUntilReadyAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        var exited = _process.WaitForExitAsync(timeout.Token);
        var first = await Task.WhenAny(_announced.Task, exited).ConfigureAwait(false);
        if (first != _announced.Task)
        {
            if (_process.HasExited) throw new InvalidOperationException($"The silo exited with code {_process.ExitCode} before it was ready.\n{Transcript()}");
            throw new TimeoutException($"The silo did not announce its address within {deadline.TotalSeconds:0} s.\n{Transcript()}");
        }
        while (true)
        {
            try
            {
                using var response = await Http.GetAsync(new Uri("/health/ready", UriKind.Relative), timeout.Token).ConfigureAwait(false);
                if (response.IsSuccessStatusCode) return;
            }
            catch (HttpRequestException)
            {
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
            }
            if (timeout.IsCancellationRequested || _process.HasExited)
                throw new TimeoutException($"/health/ready did not answer 200 within {deadline.TotalSeconds:0} s.\n{Transcript()}");
            await Task.Delay(50, CancellationToken.None).ConfigureAwait(false);
        }
    }

    /// <summary>Waits for the process to end and for its output to be read to the end; returns the exit code.</summary>
    public async Task<int> WaitForExitAsync(TimeSpan deadline)
    {
        using var timeout = new CancellationTokenSource(deadline);
        try
        {
            await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            await Task.WhenAll(_stdoutClosed.Task, _stderrClosed.Task).WaitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"The silo (pid {ProcessId}) did not exit within {deadline.TotalSeconds:0} s.\n{Transcript()}");
        }
        return _process.ExitCode;
    }

    /// <summary>Asks the silo to stop, as systemd and docker do.</summary>
    public void SendSigterm() => ProcessTools.Signal(ProcessId, ProcessTools.SigTerm);

    /// <summary>Kills the silo without giving it a chance to clean up.</summary>
    public void KillHard() => ProcessTools.Signal(ProcessId, ProcessTools.SigKill);

    /// <summary>An HTTP request with an API key in the <c>x-api-key</c> header.</summary>
    public static HttpRequestMessage Request(HttpMethod method, string path, string? apiKey = null, HttpContent? content = null)
    {
        var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative)) { Content = content };
        if (apiKey is not null) request.Headers.Add("x-api-key", apiKey);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        return request;
    }

    /// <summary>Submits a job through <c>POST /api/jobs/submit</c> and returns its id; a refusal throws with the silo's answer.</summary>
    public async Task<string> SubmitAsync(string apiKey, object job)
    {
        using var response = await Http.SendAsync(Request(HttpMethod.Post, "/api/jobs/submit", apiKey, JsonContent.Create(job)));
        var body = await response.Content.ReadAsStringAsync();
        if (!response.IsSuccessStatusCode) throw new HttpRequestException($"The submission was refused with {(int)response.StatusCode}: {body}");
        return JsonNode.Parse(body)!["job_id"]!.GetValue<string>();
    }

    /// <summary>Everything the silo printed, for assertion messages.</summary>
    public string Transcript() =>
        $"--- stdout ---\n{string.Join('\n', _stdout)}\n--- stderr ---\n{string.Join('\n', _stderr)}";

    private void OnOutput(string? line)
    {
        if (line is null)
        {
            _stdoutClosed.TrySetResult();
            return;
        }
        _stdout.Enqueue(line);
        if (line.StartsWith(ReadyPrefix, StringComparison.Ordinal) && ReadyUrl().Match(line) is { Success: true } match)
            _announced.TrySetResult(new Uri(match.Groups[1].Value));
    }

    private void OnError(string? line)
    {
        if (line is null) _stderrClosed.TrySetResult();
        else _stderr.Enqueue(line);
    }

    public async ValueTask DisposeAsync()
    {
        _http?.Dispose();
        if (!_process.HasExited)
        {
            try
            {
                SendSigterm();
                await WaitForExitAsync(TimeSpan.FromSeconds(15)).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or InvalidOperationException)
            {
                _process.Kill(entireProcessTree: true);
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }
        // A silo killed hard leaves its redis-server behind; tests must not.
        if (EmbeddedRedisPid is { } redisPid && ProcessTools.IsAlive(redisPid) && IsRedisServer(redisPid))
            ProcessTools.Signal(redisPid, ProcessTools.SigKill);
        _process.Dispose();
        if (_ownsDataDirectory)
        {
            try { Directory.Delete(DataDirectory, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static bool IsRedisServer(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/comm").StartsWith("redis-server", StringComparison.Ordinal); }
        catch (IOException) { return false; }
    }

    /// <summary>Cluster.Silo.dll as built next to this test run: <c>CLUSTER_SILO_DLL</c>, else the Silo project's output for this build configuration.</summary>
    public static string SiloAssemblyPath { get; } = BuiltAssembly.Find("Silo", "Cluster.Silo.dll", "CLUSTER_SILO_DLL");

    /// <summary>The dotnet host that runs the tests (so a test may hide everything else on PATH).</summary>
    public static string DotnetExecutable { get; } = FindDotnet();


    private static string FindDotnet()
    {
        if (System.Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)) return host;
        if (System.Environment.ProcessPath is { } self && System.IO.Path.GetFileNameWithoutExtension(self) == "dotnet") return self;
        var onPath = (System.Environment.GetEnvironmentVariable("PATH") ?? "")
            .Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Select(d => System.IO.Path.Combine(d, "dotnet"))
            .FirstOrDefault(File.Exists);
        return onPath is null ? "dotnet" : new FileInfo(onPath).ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? onPath;
    }

    [GeneratedRegex(@"^Cluster silo ready: (http://\S+?)/?(?:\s|$)")]
    private static partial Regex ReadyUrl();
}
