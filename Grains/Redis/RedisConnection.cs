using System.Buffers;
using System.Diagnostics;
using System.Net.Sockets;

namespace Cluster.Grains.Redis;

/// <summary>
/// One TCP link to Redis, shared by any number of concurrent callers. Commands are encoded into a
/// buffer under a lock, in the same order as their reply slots are queued, and one flush at a time
/// sends whatever has accumulated in one write: pipelining falls out of concurrency for free.
/// Replies come back in order and complete the queued slots one by one. Timeouts and cancellations
/// complete a slot early but leave it queued, so the late reply still lines up with its slot.
/// </summary>
/// <remarks>
/// <para>Thread hops and wake-ups were half the client's CPU, so the design avoids them:</para>
/// <list type="bullet">
/// <item>The socket stays in blocking mode and a thread of the connection's own sits in <c>recv</c>: the
/// kernel wakes it the moment replies arrive, where an async read goes through the runtime's epoll thread
/// and then the thread pool.</item>
/// <item>The callers completed by one read are resumed on the reader thread itself, as long as they
/// take less than half a millisecond in all; the rest go to the thread pool, so a heavy load still
/// spreads over the cores. The commands those callers send next are flushed by the reader once they
/// have run: one write, no hop, as in redis-benchmark's event loop.</item>
/// <item>A pipeline is written by its caller's thread when no flush is under way.</item>
/// </list>
/// <para>A caller resumed on the reader could block it, for instance by waiting synchronously for
/// another reply of this connection (as NUnit's <c>Assert.That(async () => …)</c> does). So the reader
/// role moves: when a caller has held the reader for <see cref="RedisOptions.ReaderHandoffAfter"/>, the callers of that
/// read not yet resumed go to the thread pool, its pending flush is sent, and a new thread takes over
/// reading; the old one ends once the caller lets it go. Disposing from a resumed caller takes the role
/// the same way. Until then that connection's replies wait; commands other threads send do not, as they
/// take over the write the reader was to make. Subscription handlers run on the reader outside this
/// scheme and must not block.</para>
/// </remarks>
internal sealed class RedisConnection : IAsyncDisposable, IThreadPoolWorkItem
{
    private const int ReadBufferSize = 64 * 1024;
    private const int RetainedWriteBuffer = 256 * 1024;
    private const int RetainedReadBuffer = 1024 * 1024;
    private static readonly long InlineBudgetTicks = Stopwatch.Frequency / 2000; // 0.5 ms

    private readonly Socket _socket;
    private readonly Lock _gate = new();
    private readonly Queue<IReplySlot> _pending = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _commandTimeout;
    private readonly long _readerHandoffAfterMs;
    private readonly Action<RespValue>? _onPush;
    private readonly TaskCompletionSource _readerDone = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private ArrayBufferWriter<byte> _buffer = new(16 * 1024), _sending = new(16 * 1024);
    // Under _gate. Exactly one party holds the flush while _flushScheduled is set: the flush work item, a
    // caller writing its pipeline, or, while _flushOwedByReader is also set, the reader after its callers.
    private bool _flushScheduled;
    private bool _flushOwedByReader;
    private volatile bool _everyReplyIsPush;
    private volatile RedisConnectionException? _failure;

    private readonly KeyValuePair<string, object?> _nameTag;
    private readonly string _readerName;
    private int _commandsSinceFlush;
    private volatile bool _disposing;

    // The reader's state, owned by whichever thread holds the reader role.
    private byte[] _readBuffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
    private int _readStart, _readEnd;
    private bool _readPartial;
    private readonly List<RespValue> _replies = [];
    private readonly List<IThreadPoolWorkItem> _completions = [];
    private int _resumed;
    private int _runs;

    // Nonzero while the reader runs a caller's continuation: the number of that run, which the reader and
    // a thread taking its role over race to clear. Whoever clears it owns the reader's state.
    private int _inlineRun;
    private long _inlineSince;

    // Which connection's caller this thread is running as that connection's reader, and in which run.
    [ThreadStatic] private static RedisConnection? t_resumingFor;
    [ThreadStatic] private static int t_run;

    private RedisConnection(Socket socket, RedisOptions options, string clientName, Action<RespValue>? onPush)
    {
        _nameTag = new("redis.client.name", clientName);
        _socket = socket;
        _commandTimeout = options.CommandTimeout;
        _readerHandoffAfterMs = (long)options.ReaderHandoffAfter.TotalMilliseconds;
        _onPush = onPush;
        _readerName = "redis-reader " + clientName;
        StartReader();
        ConnectionSweeper.Add(this);
    }

    /// <summary>Completes once the link has died and every call in flight has been failed.</summary>
    public Task Closed => _closed.Task;

    public bool IsHealthy => _failure is null;

    /// <summary>Why the link died, or null while it is alive.</summary>
    public RedisConnectionException? Failure => _failure;

    /// <summary>
    /// Connects and runs the handshake (HELLO 3, AUTH, SELECT, CLIENT SETNAME). <paramref name="onPush"/>
    /// receives RESP3 push messages, and after <see cref="EnterSubscriberMode"/> every reply.
    /// </summary>
    public static async Task<RedisConnection> OpenAsync(RedisOptions options, string clientName, Action<RespValue>? onPush, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            // Connected synchronously (on a pool thread): one async operation would put the socket in
            // non-blocking mode for good, and the reader's blocking recv would go through epoll again.
            await Task.Run(() => socket.Connect(options.Host, options.Port), CancellationToken.None)
                .WaitAsync(options.ConnectTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or TimeoutException)
        {
            socket.Dispose();
            throw new RedisConnectionException($"Cannot connect to Redis at {options}: {(e is SocketException s ? s.SocketErrorCode.ToString() : "timed out")}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new RedisConnection(socket, options, clientName, onPush);
        try
        {
            await connection.HandshakeAsync(options, clientName, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    private async Task HandshakeAsync(RedisOptions options, string clientName, CancellationToken cancellationToken)
    {
        // Sent as one pipelined batch; the first failure is the one worth reporting.
        var steps = new List<Task<RespValue>>(3);
        var timeout = options.ConnectTimeout;
        if (options.Protocol == 3)
            steps.Add(options.Password is null
                ? Send("HELLO", ["3"], cancellationToken, timeout)
                : Send("HELLO", ["3", "AUTH", options.User ?? "default", options.Password], cancellationToken, timeout));
        else if (options.Password is not null)
            steps.Add(options.User is null
                ? Send("AUTH", [options.Password], cancellationToken, timeout)
                : Send("AUTH", [options.User, options.Password], cancellationToken, timeout));
        if (options.Database != 0) steps.Add(Send("SELECT", [options.Database], cancellationToken, timeout));
        steps.Add(Send("CLIENT", ["SETNAME", clientName], cancellationToken, timeout));
        foreach (var step in steps)
        {
            try
            {
                await step.ConfigureAwait(false);
            }
            catch (RedisServerException e) when (e.Code is "WRONGPASS" or "NOAUTH" or "NOPERM")
            {
                throw new RedisConnectionException($"Redis at {options} rejected the credentials: {e.Message}. Check the user and password options.", e);
            }
            catch (RedisServerException e)
            {
                throw new RedisConnectionException($"Redis at {options} refused the connection handshake: {e.Message}", e);
            }
            catch (RedisTimeoutException e)
            {
                throw new RedisConnectionException($"Redis at {options} did not answer the connection handshake within {timeout.TotalSeconds:0.#} s", e);
            }
        }
    }

    /// <summary>From now on every reply goes to the push handler: a subscribed RESP2 connection sends messages as plain arrays.</summary>
    public void EnterSubscriberMode() => _everyReplyIsPush = true;

    public Task<RespValue> Send(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<RespValue>(cancellationToken);
        var reply = new PendingReply(command, Environment.TickCount64 + (long)(timeout ?? _commandTimeout).TotalMilliseconds);
        // Registered before the slot is queued, so that the reader never completes a half-registered reply.
        if (cancellationToken.CanBeCanceled) reply.CancelWith(cancellationToken);
        lock (_gate)
        {
            if (_failure is { } failure) return Task.FromException<RespValue>(failure);
            Encode(command, args);
            _pending.Enqueue(reply);
        }
        return reply.Task;
    }

    /// <summary>
    /// Sends commands back to back, as one pipeline: their replies complete one task with every reply in
    /// order. Error replies are returned in place (kind <see cref="RespKind.Error"/>), not thrown.
    /// </summary>
    public Task<RespValue[]> SendPipeline(IReadOnlyList<RedisCommand> commands, CancellationToken cancellationToken, TimeSpan? timeout)
    {
        if (commands.Count == 0) return Task.FromResult(Array.Empty<RespValue>());
        foreach (var command in commands) ArgumentException.ThrowIfNullOrEmpty(command.Name, nameof(commands));
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<RespValue[]>(cancellationToken);
        var batch = new PipelineBatch(commands.Count);
        var deadline = Environment.TickCount64 + (long)(timeout ?? _commandTimeout).TotalMilliseconds;
        bool writeHere;
        lock (_gate)
        {
            if (_failure is { } failure) return Task.FromException<RespValue[]>(failure);
            for (var i = 0; i < commands.Count; i++)
            {
                WriteCommand(commands[i].Name, commands[i].Args);
                _pending.Enqueue(new PipelineBatch.Slot(batch, i, commands[i].Name, deadline));
            }
            // A whole pipeline is already one write: nothing is gained by waiting for other callers.
            writeHere = !_flushScheduled || TakeOwedFlush();
            _flushScheduled = true;
        }
        // More encoded meanwhile goes to the flush work item: a caller's thread does not write for others.
        if (writeHere && FlushOnce()) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.UnsafeRegister(static (state, t) => ((PipelineBatch)state!).Settle(new OperationCanceledException(t)), batch);
            batch.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return batch.Task;
    }

    /// <summary>Sends a command whose replies arrive as pushes (SUBSCRIBE and friends).</summary>
    public void Post(string command, ReadOnlySpan<RedisArg> args)
    {
        ArgumentException.ThrowIfNullOrEmpty(command);
        lock (_gate)
        {
            if (_failure is { } failure) throw failure;
            Encode(command, args);
        }
    }

    private void Encode(string command, ReadOnlySpan<RedisArg> args)
    {
        WriteCommand(command, args);
        if (!_flushScheduled)
        {
            // Callers resumed on the reader leave the flush to it, once they have all run. Elsewhere it is
            // queued globally, behind the continuations of callers resumed by the last batch of replies:
            // they run first, so their next commands go out together in one write.
            _flushScheduled = true;
            if (IsReaderHere()) _flushOwedByReader = true;
            else ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
        else if (TakeOwedFlush()) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    /// <summary>
    /// Under the gate, on a thread other than the reader: takes over the flush the reader owes, so that this
    /// thread's command does not wait for a slow caller on the reader.
    /// </summary>
    private bool TakeOwedFlush()
    {
        if (!_flushOwedByReader || IsReaderHere()) return false;
        _flushOwedByReader = false;
        return true;
    }

    private void WriteCommand(string command, ReadOnlySpan<RedisArg> args)
    {
        RedisArg.WriteHeader(_buffer, (byte)'*', args.Length + 1);
        RedisArg.WriteCommandName(_buffer, command);
        foreach (var arg in args) arg.WriteTo(_buffer);
        _commandsSinceFlush++;
    }

    /// <summary>The flush work item: sends everything encoded so far, and whatever is encoded while that is being sent.</summary>
    void IThreadPoolWorkItem.Execute()
    {
        while (FlushOnce()) { }
    }

    /// <summary>
    /// Sends what has been encoded, in one write, by whoever holds the flush (<c>_flushScheduled</c>).
    /// Returns true, still holding it, when more was encoded meanwhile.
    /// </summary>
    private bool FlushOnce()
    {
        int commands;
        lock (_gate)
        {
            if (_failure is not null || _buffer.WrittenCount == 0)
            {
                _flushScheduled = false;
                return false;
            }
            (_sending, _buffer) = (_buffer, _sending);
            commands = _commandsSinceFlush;
            _commandsSinceFlush = 0;
        }
        try
        {
            // Counted before writing: the replies may be back, and their callers resumed, before the write returns.
            RedisMetrics.Writes.Add(1, _nameTag);
            RedisMetrics.Commands.Add(commands, _nameTag);
            var bytes = _sending.WrittenSpan;
            while (bytes.Length > 0) bytes = bytes[_socket.Send(bytes)..];
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Fail(new RedisConnectionException($"Lost the connection to Redis while writing: {e.Message}", e));
            lock (_gate) _flushScheduled = false;
            return false;
        }
        // One huge command should not pin its buffer for the life of the connection.
        if (_sending.Capacity > RetainedWriteBuffer) _sending = new ArrayBufferWriter<byte>(16 * 1024);
        else _sending.ResetWrittenCount();
        lock (_gate)
        {
            if (_failure is null && _buffer.WrittenCount > 0) return true;
            _flushScheduled = false;
            return false;
        }
    }

    private void StartReader() => new Thread(ReadLoop) { IsBackground = true, Name = _readerName }.UnsafeStart();

    private void ReadLoop()
    {
        try
        {
            while (true)
            {
                if (_readEnd == _readBuffer.Length) MakeRoom();
                var received = _socket.Receive(_readBuffer, _readEnd, _readBuffer.Length - _readEnd, SocketFlags.None);
                if (received == 0) throw new RedisConnectionException("Redis closed the connection");
                _readEnd += received;
                var unread = new ReadOnlySequence<byte>(_readBuffer, _readStart, _readEnd - _readStart);
                // A large reply arriving over many reads is scanned for completeness before it is built.
                if (!_readPartial || unread.Length < ReadBufferSize || RespParser.HasWholeReply(unread))
                {
                    while (RespParser.TryParse(ref unread, out var value)) _replies.Add(value);
                }
                _readStart = _readEnd - (int)unread.Length;
                _readPartial = _readStart != _readEnd;
                if (!_readPartial) ResetReadBuffer();
                if (_replies.Count == 0) continue;
                Dispatch(_replies);
                _replies.Clear();
                if (!ResumeCallers()) return; // another thread reads now; the state is its
                FlushWhatCallersSent(here: true);
            }
        }
        catch (Exception e)
        {
            Fail(e as RedisConnectionException ?? new RedisConnectionException($"Lost the connection to Redis: {e.Message}", e));
        }
        ArrayPool<byte>.Shared.Return(_readBuffer);
        _readerDone.TrySetResult();
    }

    /// <summary>Moves the unread bytes to the front of the buffer, or into one twice as big when they fill it.</summary>
    private void MakeRoom()
    {
        var unread = _readEnd - _readStart;
        var target = _readStart > 0 ? _readBuffer : ArrayPool<byte>.Shared.Rent(_readBuffer.Length * 2);
        Buffer.BlockCopy(_readBuffer, _readStart, target, 0, unread);
        if (target != _readBuffer) ArrayPool<byte>.Shared.Return(_readBuffer);
        (_readBuffer, _readStart, _readEnd) = (target, 0, unread);
    }

    private void ResetReadBuffer()
    {
        _readStart = _readEnd = 0;
        // A huge reply should not pin its buffer for the life of the connection.
        if (_readBuffer.Length <= RetainedReadBuffer) return;
        ArrayPool<byte>.Shared.Return(_readBuffer);
        _readBuffer = ArrayPool<byte>.Shared.Rent(ReadBufferSize);
    }

    /// <summary>Hands each reply to its slot, collecting in <see cref="_completions"/> the callers it completes.</summary>
    private void Dispatch(List<RespValue> replies)
    {
        var everyReplyIsPush = _everyReplyIsPush && _onPush is not null;
        var slots = 0;
        if (!everyReplyIsPush)
            foreach (var value in replies)
                if (value.Kind != RespKind.Push) slots++;
        var owners = slots == 0 ? [] : ArrayPool<IReplySlot>.Shared.Rent(slots);
        if (slots > 0)
        {
            lock (_gate)
            {
                if (_pending.Count < slots) throw new RedisProtocolException($"Redis sent a reply nobody asked for: {replies[^1]}");
                for (var i = 0; i < slots; i++) owners[i] = _pending.Dequeue();
            }
        }
        var next = 0;
        foreach (var value in replies)
        {
            if (everyReplyIsPush || value.Kind == RespKind.Push) Push(value);
            else if (owners[next++].Accept(value) is { } completion) _completions.Add(completion);
        }
        if (slots > 0)
        {
            Array.Clear(owners, 0, slots);
            ArrayPool<IReplySlot>.Shared.Return(owners);
        }
    }

    /// <summary>
    /// Resumes the callers of a read on the reader thread while that stays cheap; the rest go to the thread
    /// pool. Returns false when the reader role was taken meanwhile, with it the callers not yet resumed.
    /// </summary>
    private bool ResumeCallers()
    {
        var budgetEnd = Stopwatch.GetTimestamp() + InlineBudgetTicks;
        t_resumingFor = this;
        try
        {
            while (_resumed < _completions.Count)
            {
                if (_resumed > 0 && Stopwatch.GetTimestamp() > budgetEnd) break;
                if (!RunAsReader(_completions[_resumed++])) return false;
            }
        }
        finally
        {
            t_resumingFor = null;
        }
        ResumeTheRestOnThreadPool();
        return true;
    }

    private void ResumeTheRestOnThreadPool()
    {
        for (; _resumed < _completions.Count; _resumed++) ThreadPool.UnsafeQueueUserWorkItem(_completions[_resumed], preferLocal: false);
        _completions.Clear();
        _resumed = 0;
    }

    /// <summary>Resumes a caller on the reader thread. Returns false when the reader role was taken meanwhile.</summary>
    private bool RunAsReader(IThreadPoolWorkItem completion)
    {
        var run = _runs = _runs == int.MaxValue ? 1 : _runs + 1;
        t_run = run;
        Volatile.Write(ref _inlineSince, Environment.TickCount64);
        Volatile.Write(ref _inlineRun, run);
        completion.Execute();
        return Interlocked.CompareExchange(ref _inlineRun, 0, run) == run;
    }

    /// <summary>Whether this thread runs a caller as this connection's reader, and still holds that role.</summary>
    private bool IsReaderHere() => t_resumingFor == this && Volatile.Read(ref _inlineRun) == t_run;

    /// <summary>
    /// Takes the reader role from a thread that has been running a caller's continuation since
    /// <paramref name="busySince"/> or earlier. Whoever takes it resumes the callers that thread had not
    /// yet resumed and flushes what it was to flush: the caller holding it may be waiting for either.
    /// </summary>
    private bool TakeReaderRole(long busySince)
    {
        var run = Volatile.Read(ref _inlineRun);
        if (run == 0 || Volatile.Read(ref _inlineSince) > busySince || Interlocked.CompareExchange(ref _inlineRun, 0, run) != run) return false;
        ResumeTheRestOnThreadPool();
        FlushWhatCallersSent(here: false);
        return true;
    }

    /// <summary>Sends the commands that callers resumed on the reader left for it to flush, on this thread or through the flush work item.</summary>
    private void FlushWhatCallersSent(bool here)
    {
        lock (_gate)
        {
            if (!_flushOwedByReader) return;
            _flushOwedByReader = false;
        }
        // The reader writes once; what other threads encode meanwhile is for the work item, not for the reader.
        if (!here || FlushOnce()) ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
    }

    private void Push(RespValue value)
    {
        try
        {
            _onPush?.Invoke(value);
        }
#pragma warning disable CA1031 // a faulty message handler must not take the connection down with it
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Called by <see cref="ConnectionSweeper"/> every tick: times out expired replies and rescues a held reader.</summary>
    internal void Sweep()
    {
        var now = Environment.TickCount64;
        List<IReplySlot>? expired = null;
        lock (_gate)
        {
            // Each call has its own timeout, so deadlines are not in queue order: look at every slot.
            foreach (var reply in _pending)
                if (reply.Deadline <= now && !reply.IsAnswered) (expired ??= []).Add(reply);
        }
        if (_failure is null && TakeReaderRole(now - _readerHandoffAfterMs))
        {
            RedisMetrics.ReaderHandoffs.Add(1, _nameTag);
            StartReader();
        }
        if (expired is null) return;
        foreach (var reply in expired) reply.TimeOut();
    }

    private void Fail(RedisConnectionException failure)
    {
        IReplySlot[] inFlight;
        lock (_gate)
        {
            if (_failure is not null) return;
            _failure = failure;
            inFlight = [.. _pending];
            _pending.Clear();
        }
        ConnectionSweeper.Remove(this); // nothing is left to time out, and a dead link has no reader to rescue
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        foreach (var reply in inFlight) reply.Fail(failure);
        if (!_disposing) RedisMetrics.ConnectionsLost.Add(1, _nameTag);
        _closed.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        Fail(new RedisConnectionException("The Redis connection was closed"));
        // The reader may be running a caller's continuation, perhaps the very one disposing, or start one
        // with replies it had read before the shutdown in Fail: take its role rather than wait for it.
        while (!_readerDone.Task.IsCompleted)
        {
            if (TakeReaderRole(long.MaxValue)) _readerDone.TrySetResult();
            else await Task.WhenAny(_readerDone.Task, Task.Delay(ConnectionSweeper.Interval)).ConfigureAwait(false);
        }
        _socket.Dispose();
    }
}
