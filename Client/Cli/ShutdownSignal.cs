using System.Runtime.InteropServices;

namespace Cluster.Client.Cli;

/// <summary>
/// Turns the first Ctrl-C or SIGTERM into a cancellation, so that the agent can finish its jobs and close its
/// sockets; a second Ctrl-C ends the process at once. (System.CommandLine's own handling gives up after a fixed
/// timeout, too short for a job to finish.)
/// </summary>
public sealed class ShutdownSignal : IDisposable
{
    private readonly CancellationTokenSource _requested = new();
    private readonly List<PosixSignalRegistration> _registrations = [];

    public ShutdownSignal()
    {
        foreach (var signal in new[] { PosixSignal.SIGINT, PosixSignal.SIGTERM })
        {
            _registrations.Add(PosixSignalRegistration.Create(signal, context =>
            {
                if (_requested.IsCancellationRequested) return; // the second signal: let the default end the process
                context.Cancel = true;
                _requested.Cancel();
            }));
        }
    }

    public CancellationToken Token => _requested.Token;

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _requested.Dispose();
    }
}
