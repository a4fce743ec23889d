namespace Cluster.Grains.Redis;

/// <summary>
/// The replies of a pipeline: commands sent together, whose replies complete one task together. One
/// continuation for the whole batch instead of one per command is what makes a pipeline cheap.
/// </summary>
/// <remarks>Completed as <see cref="PendingReply"/> is: its last reply yields the completion to run.</remarks>
internal sealed class PipelineBatch(int count) : TaskCompletionSource<RespValue[]>, IThreadPoolWorkItem
{
    private readonly RespValue[] _replies = new RespValue[count];
    private int _remaining = count;

    private IThreadPoolWorkItem? Set(int index, RespValue value)
    {
        Volatile.Write(ref _replies[index], value);
        return Interlocked.Decrement(ref _remaining) == 0 ? this : null;
    }

    void IThreadPoolWorkItem.Execute() => TrySetResult(_replies);

    public void Settle(Exception e) => IReplySlot.SettleOnThreadPool(this, e);

    /// <summary>One reply slot of the batch in the connection's queue: a small object, not a task of its own.</summary>
    public sealed class Slot(PipelineBatch batch, int index, string command, long deadline) : IReplySlot
    {
        public long Deadline { get; } = deadline;

        public bool IsAnswered => batch.Task.IsCompleted || Volatile.Read(ref batch._replies[index]) is not null;

        public IThreadPoolWorkItem? Accept(RespValue value) => batch.Set(index, value);

        public void Fail(Exception e) => batch.Settle(e);

        public void TimeOut() => batch.Settle(new RedisTimeoutException($"Redis did not answer a pipeline in time (at {command})"));
    }
}

/// <summary>One command of a pipeline.</summary>
public readonly record struct RedisCommand(string Name, params RedisArg[] Args);
