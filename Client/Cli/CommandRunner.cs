using System.Net.Sockets;
using System.Text.Json;
using Cluster.Client.Agent;
using Cluster.Client.Api;

namespace Cluster.Client.Cli;

/// <summary>Runs a command's body and turns what can go wrong into one clear line on stderr and an exit code.</summary>
public sealed class CommandRunner(CliEnvironment environment)
{
    public async Task<int> RunAsync(Func<Task<int>> body, Func<string>? siloForMessages = null)
    {
        ArgumentNullException.ThrowIfNull(body);
        try
        {
            return await body().ConfigureAwait(false);
        }
        catch (CliUsageException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (AgentConfigurationException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
        catch (ClusterApiException e)
        {
            return Fail(ExitCodes.Failed, Describe(e));
        }
        catch (HttpRequestException e)
        {
            var silo = SafeSilo(siloForMessages);
            var why = e.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionRefused } ? "connection refused"
                : e.InnerException?.Message ?? e.Message;
            return Fail(ExitCodes.Unreachable, $"cannot reach the silo at {silo}: {why}");
        }
        catch (TaskCanceledException e) when (e.InnerException is TimeoutException)
        {
            return Fail(ExitCodes.Unreachable, $"the silo at {SafeSilo(siloForMessages)} did not answer in time");
        }
        catch (OperationCanceledException)
        {
            environment.Error.WriteLine("interrupted");
            return ExitCodes.Interrupted;
        }
        catch (JsonException e)
        {
            return Fail(ExitCodes.Usage, $"not valid JSON: {e.Message}");
        }
        catch (IOException e)
        {
            return Fail(ExitCodes.Usage, e.Message);
        }
    }

    internal static string Describe(ClusterApiException e) => e.StatusCode switch
    {
        401 => $"unauthorized: the silo refused the API key ({e.Message}); check --api-key or CLUSTER_API_KEY",
        403 => $"forbidden: the API key lacks the scope for this command ({e.Message})",
        404 => $"not found: {e.Message}",
        _ => $"{e.Code} ({e.StatusCode}): {e.Message}",
    };

    private int Fail(int code, string message)
    {
        environment.Error.WriteLine($"error: {message}");
        return code;
    }

    private static string SafeSilo(Func<string>? silo)
    {
        try
        {
            return silo?.Invoke() ?? "the configured address";
        }
        catch (CliUsageException)
        {
            return "the configured address";
        }
    }
}
