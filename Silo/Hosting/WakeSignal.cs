namespace Cluster.Silo.Hosting;

/// <summary>
/// Wakes a background loop that otherwise waits for its next tick. Wake-ups coalesce: however many arrive
/// while the loop is busy, it runs once more.
/// </summary>
public sealed class WakeSignal : IDisposable
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void Wake()
    {
        // Checked first, so that the common case (already signalled) costs no exception.
        if (_signal.CurrentCount > 0) return;
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // signalled by another thread meanwhile
        }
    }

    /// <summary>Waits for a wake-up or for <paramref name="timeout"/>, whichever comes first.</summary>
    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken cancellationToken) => _signal.WaitAsync(timeout, cancellationToken);

    public void Dispose() => _signal.Dispose();
}
