using System.Runtime.InteropServices;

namespace Cluster.Silo.Hosting;

/// <summary>
/// SIGINT and SIGTERM while the silo is still starting (before the host installs its own handlers): cancel
/// the start so that the embedded redis-server is stopped on the way out instead of being left behind.
/// </summary>
public sealed class StartupSignals : IDisposable
{
    private readonly CancellationTokenSource _cancel = new();
    private readonly PosixSignalRegistration[] _registrations;

    public StartupSignals()
    {
        _registrations = [PosixSignalRegistration.Create(PosixSignal.SIGTERM, Handle), PosixSignalRegistration.Create(PosixSignal.SIGINT, Handle)];
    }

    public CancellationToken Token => _cancel.Token;

    private void Handle(PosixSignalContext context)
    {
        context.Cancel = true;
        _cancel.Cancel();
    }

    public void Dispose()
    {
        foreach (var registration in _registrations) registration.Dispose();
        _cancel.Dispose();
    }
}
