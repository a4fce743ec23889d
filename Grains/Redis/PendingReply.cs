namespace Cluster.Grains.Redis;

/// <summary>
/// A caller waiting for its reply; completed exactly once by a reply, a failure, a timeout or a cancellation.
/// Continuations run synchronously on whichever thread completes it, which is never the connection's reader.
/// </summary>
internal sealed class PendingReply(string command, long deadline) : TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously)
{
    private CancellationTokenRegistration _registration;

    /// <summary><see cref="Environment.TickCount64"/> after which the caller gets <see cref="RedisTimeoutException"/>.</summary>
    public long Deadline { get; } = deadline;

    public void CancelWith(CancellationToken token)
    {
        // Off the cancelling thread, so that CancellationTokenSource.Cancel never runs the caller's continuation.
        _registration = token.UnsafeRegister(static (state, t) =>
            ThreadPool.UnsafeQueueUserWorkItem(static s => s.reply.TrySetCanceled(s.t), (reply: (PendingReply)state!, t), preferLocal: false), this);
        if (Task.IsCompleted) _registration.Dispose(); // the reply won the race
    }

    public void Complete(RespValue value)
    {
        if (value.IsError) TrySetException(new RedisServerException(value.ToString()));
        else TrySetResult(value);
        _registration.Dispose();
    }

    public void Fail(Exception e)
    {
        TrySetException(e);
        _registration.Dispose();
    }

    public void TimeOut()
    {
        if (TrySetException(new RedisTimeoutException($"Redis did not answer {command} in time"))) _registration.Dispose();
    }
}
