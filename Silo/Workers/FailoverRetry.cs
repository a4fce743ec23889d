using System.Diagnostics;
using Orleans.Runtime;

namespace Cluster.Silo.Workers;

/// <summary>
/// A grain call that reaches for a silo that just died is refused at once (its connection is refused) until the
/// cluster declares that silo dead and the grain comes back on another, seconds later. The worker protocol's calls
/// are safe to repeat (a lease token fences each; a repeated completion is answered as done), so they are repeated
/// for up to <see cref="Window"/> instead of failing the worker's frame.
/// </summary>
internal static class FailoverRetry
{
    /// <summary>Orleans' own default wait for a grain call's answer: as long as a call to a silo that died could have hung.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Pause = TimeSpan.FromMilliseconds(200);

    public static Task CallAsync<TState>(TState state, Func<TState, CancellationToken, Task> call, CancellationToken cancellationToken) =>
        CallAsync((State: state, Call: call), static async (s, ct) =>
        {
            await s.Call(s.State, ct).ConfigureAwait(false);
            return true;
        }, cancellationToken);

    public static async Task<T> CallAsync<TState, T>(TState state, Func<TState, CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return await call(state, cancellationToken).ConfigureAwait(false);
            }
            catch (OrleansMessageRejectionException) when (Stopwatch.GetElapsedTime(started) < Window)
            {
                await Task.Delay(Pause, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
