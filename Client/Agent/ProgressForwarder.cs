namespace Cluster.Client.Agent;

/// <summary>
/// Passes a connector's progress on to the silo at most once per <c>interval</c>, always the latest value:
/// a connector may report thousands of steps, the silo needs a few per second. One send is in flight at a time.
/// </summary>
public sealed class ProgressForwarder(Func<double, string?, Task> send, TimeSpan interval, Action<Exception>? onSendFailed = null)
    : IProgress<(double progress, string? message)>
{
    private readonly Lock _gate = new();
    private readonly CancellationTokenSource _flushing = new();
    private (double Progress, string? Message)? _latest;
    private Task _pump = Task.CompletedTask;
    private bool _pumping;
    private bool _stopped;

    public void Report((double progress, string? message) value)
    {
        lock (_gate)
        {
            if (_stopped) return;
            _latest = value;
            if (_pumping) return;
            _pumping = true;
            _pump = Task.Run(PumpAsync);
        }
    }

    /// <summary>
    /// Stops taking reports, so that no progress follows a completion or failure, and sends the one still
    /// waiting unless <paramref name="sendPending"/> is false.
    /// </summary>
    public async Task FlushAsync(bool sendPending = true)
    {
        Task pump;
        lock (_gate)
        {
            _stopped = true;
            pump = _pump;
        }
        // The pump may be waiting out its interval; the last report should not wait for it.
        await _flushing.CancelAsync().ConfigureAwait(false);
        await pump.ConfigureAwait(false);
        (double Progress, string? Message)? last;
        lock (_gate)
        {
            last = _latest;
            _latest = null;
        }
        if (sendPending && last is { } value) await SendAsync(value).ConfigureAwait(false);
    }

    private async Task PumpAsync()
    {
        while (true)
        {
            (double Progress, string? Message) value;
            lock (_gate)
            {
                if (_latest is null || _stopped)
                {
                    _pumping = false;
                    return;
                }
                value = _latest.Value;
                _latest = null;
            }
            await SendAsync(value).ConfigureAwait(false);
            try
            {
                await Task.Delay(interval, _flushing.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // Flushing: FlushAsync sends what is left.
            }
        }
    }

    private async Task SendAsync((double Progress, string? Message) value)
    {
        try
        {
            await send(value.Progress, value.Message).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Progress is advisory: a lost report must not fail the job; completion will tell the truth.
            onSendFailed?.Invoke(e);
        }
    }
}
