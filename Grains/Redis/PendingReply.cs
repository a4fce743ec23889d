namespace Cluster.Grains.Redis;

/// <summary>
/// A caller waiting for its reply; completed exactly once by a reply, a failure, a timeout or a cancellation.
/// </summary>
/// <remarks>
/// Continuations run on the thread pool, not inline on the completing thread. Inline would save a hop per
/// call, but a caller that blocks on a later reply of the same batch (sync over async, as test frameworks
/// do) would then hold up the very thread that has to deliver that reply: a deadlock, which we hit.
/// </remarks>
internal sealed class PendingReply(string command, long deadline) : TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously), IReplySlot
{
    public bool IsAnswered => Task.IsCompleted;

    private CancellationTokenRegistration _registration;

    /// <summary><see cref="Environment.TickCount64"/> after which the caller gets <see cref="RedisTimeoutException"/>.</summary>
    public long Deadline { get; } = deadline;

    public void CancelWith(CancellationToken token)
    {
        _registration = token.UnsafeRegister(static (state, t) => ((PendingReply)state!).TrySetCanceled(t), this);
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

/// <summary>A place in a connection's queue of replies: replies arrive in the order their slots were queued.</summary>
internal interface IReplySlot
{
    /// <summary><see cref="Environment.TickCount64"/> after which the slot times out.</summary>
    long Deadline { get; }
    /// <summary>True once a reply, failure, timeout or cancellation has settled the slot.</summary>
    bool IsAnswered { get; }
    void Complete(RespValue value);
    void Fail(Exception e);
    void TimeOut();
}
