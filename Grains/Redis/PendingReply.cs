namespace Cluster.Grains.Redis;

/// <summary>
/// A caller waiting for its reply; completed exactly once by a reply, a failure, a timeout or a cancellation.
/// </summary>
/// <remarks>
/// A reply is accepted by the connection's reader and published by <see cref="IThreadPoolWorkItem.Execute"/>,
/// which runs the caller's continuation on whichever thread calls it: the reader while its budget for the
/// read lasts, the thread pool after that (see <see cref="RedisConnection"/>). Failures, timeouts and
/// cancellations always go through the thread pool (<see cref="IReplySlot.SettleOnThreadPool"/>).
/// </remarks>
internal sealed class PendingReply(string command, long deadline) : TaskCompletionSource<RespValue>, IReplySlot, IThreadPoolWorkItem
{
    private RespValue? _reply;
    private CancellationTokenRegistration _registration;

    public bool IsAnswered => Volatile.Read(ref _reply) is not null || Task.IsCompleted;

    /// <summary><see cref="Environment.TickCount64"/> after which the caller gets <see cref="RedisTimeoutException"/>.</summary>
    public long Deadline { get; } = deadline;

    public void CancelWith(CancellationToken token)
    {
        _registration = token.UnsafeRegister(static (state, t) => ((PendingReply)state!).Settle(new OperationCanceledException(t)), this);
        if (Task.IsCompleted) _registration.Dispose(); // the reply won the race
    }

    public IThreadPoolWorkItem Accept(RespValue value)
    {
        Volatile.Write(ref _reply, value);
        return this;
    }

    void IThreadPoolWorkItem.Execute()
    {
        var value = _reply!;
        if (value.IsError) TrySetException(new RedisServerException(value.ToString()));
        else TrySetResult(value);
        _registration.Dispose();
    }

    public void Fail(Exception e) => Settle(e);

    public void TimeOut() => Settle(new RedisTimeoutException($"Redis did not answer {command} in time"));

    private void Settle(Exception e) => IReplySlot.SettleOnThreadPool(this, e, static reply => ((PendingReply)reply)._registration.Dispose());
}

/// <summary>A place in a connection's queue of replies: replies arrive in the order their slots were queued.</summary>
internal interface IReplySlot
{
    /// <summary><see cref="Environment.TickCount64"/> after which the slot times out.</summary>
    long Deadline { get; }

    /// <summary>True once a reply, failure, timeout or cancellation has settled the slot.</summary>
    bool IsAnswered { get; }

    /// <summary>
    /// Takes the slot's reply. Returns the completion that hands it to the caller, to be run by the reader or
    /// queued to the thread pool, or null when the caller waits for more (a pipeline's earlier replies).
    /// </summary>
    IThreadPoolWorkItem? Accept(RespValue value);

    void Fail(Exception e);

    void TimeOut();

    /// <summary>
    /// Fails <paramref name="source"/>, or cancels it for an <see cref="OperationCanceledException"/>, on the
    /// thread pool, so that no caller's code runs on a timer or a canceller. <paramref name="settled"/> runs
    /// when this call is what settled it.
    /// </summary>
    static void SettleOnThreadPool<T>(TaskCompletionSource<T> source, Exception e, Action<TaskCompletionSource<T>>? settled = null)
    {
        if (source.Task.IsCompleted) return;
        ThreadPool.UnsafeQueueUserWorkItem(static state =>
        {
            var (source, e, settled) = state;
            if (e is OperationCanceledException c ? source.TrySetCanceled(c.CancellationToken) : source.TrySetException(e)) settled?.Invoke(source);
        }, (source, e, settled), preferLocal: false);
    }
}
