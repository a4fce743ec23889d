using System.Globalization;

namespace Cluster.Client.Agent;

/// <summary>Console lines for the agent, each with its time and the worker it is about. Never given secrets.</summary>
public sealed class AgentLog(TextWriter output)
{
    private readonly Lock _gate = new();

    public void Info(string source, string message) => Write("INF", source, message);
    public void Warn(string source, string message) => Write("WRN", source, message);
    public void Error(string source, string message) => Write("ERR", source, message);

    private void Write(string level, string source, string message)
    {
        var line = $"{DateTime.Now.ToString("HH:mm:ss.fff", CultureInfo.InvariantCulture)} {level} [{source}] {message}";
        lock (_gate) output.WriteLine(line);
    }
}
