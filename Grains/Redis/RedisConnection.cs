using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Cluster.Grains.Redis;

/// <summary>
/// One TCP link to Redis, shared by any number of concurrent callers. Commands are encoded into a
/// buffer under a lock, in the same order as their reply slots are queued, and one flush at a time
/// sends whatever has accumulated in one write: pipelining falls out of concurrency for free.
/// Replies come back in order and complete the queued slots one by one. Timeouts and cancellations
/// complete a slot early but leave it queued, so the late reply still lines up with its slot.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable, IThreadPoolWorkItem
{
    private const int ReadBufferSize = 64 * 1024;
    private const int RetainedWriteBuffer = 256 * 1024;
    private static readonly TimeSpan SweepInterval = TimeSpan.FromMilliseconds(50);

    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Lock _gate = new();
    private readonly Queue<IReplySlot> _pending = new();
    private readonly TaskCompletionSource _closed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TimeSpan _commandTimeout;
    private readonly Action<RespValue>? _onPush;
    private readonly Task _reader;
    private readonly Timer _timeoutSweep;
    private ArrayBufferWriter<byte> _buffer = new(16 * 1024), _sending = new(16 * 1024);
    private bool _flushScheduled;
    private volatile Task _flushing = Task.CompletedTask;
    private volatile bool _everyReplyIsPush;
    private volatile RedisConnectionException? _failure;

    private readonly KeyValuePair<string, object?> _nameTag;
    private int _commandsSinceFlush;
    private volatile bool _disposing;

    private RedisConnection(Socket socket, string clientName, TimeSpan commandTimeout, Action<RespValue>? onPush)
    {
        _nameTag = new("redis.client.name", clientName);
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _commandTimeout = commandTimeout;
        _onPush = onPush;
        _reader = Task.Run(ReadLoopAsync);
        _timeoutSweep = new Timer(static self => ((RedisConnection)self!).SweepTimeouts(), this, SweepInterval, SweepInterval);
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
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.ConnectTimeout);
        try
        {
            await socket.ConnectAsync(options.Host, options.Port, timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new RedisConnectionException($"Cannot connect to Redis at {options}: {(e is SocketException s ? s.SocketErrorCode.ToString() : "timed out")}", e);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
        var connection = new RedisConnection(socket, clientName, options.CommandTimeout, onPush);
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
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<RespValue>(cancellationToken);
        var reply = new PendingReply(command, Environment.TickCount64 + (long)(timeout ?? _commandTimeout).TotalMilliseconds);
        lock (_gate)
        {
            if (_failure is { } failure) return Task.FromException<RespValue>(failure);
            Encode(command, args);
            _pending.Enqueue(reply);
        }
        if (cancellationToken.CanBeCanceled) reply.CancelWith(cancellationToken);
        return reply.Task;
    }

    /// <summary>
    /// Sends commands back to back, as one pipeline: their replies complete one task with every reply in
    /// order. Error replies are returned in place (kind <see cref="RespKind.Error"/>), not thrown.
    /// </summary>
    public Task<RespValue[]> SendPipeline(IReadOnlyList<RedisCommand> commands, CancellationToken cancellationToken, TimeSpan? timeout)
    {
        if (commands.Count == 0) return Task.FromResult(Array.Empty<RespValue>());
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<RespValue[]>(cancellationToken);
        var batch = new PipelineBatch(commands.Count);
        var deadline = Environment.TickCount64 + (long)(timeout ?? _commandTimeout).TotalMilliseconds;
        lock (_gate)
        {
            if (_failure is { } failure) return Task.FromException<RespValue[]>(failure);
            for (var i = 0; i < commands.Count; i++)
            {
                Encode(commands[i].Name, commands[i].Args);
                _pending.Enqueue(new PipelineBatch.Slot(batch, i, commands[i].Name, deadline));
            }
        }
        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.UnsafeRegister(static (state, t) => ((PipelineBatch)state!).TrySetCanceled(t), batch);
            batch.Task.ContinueWith(static (_, r) => ((CancellationTokenRegistration)r!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
        return batch.Task;
    }

    /// <summary>Sends a command whose replies arrive as pushes (SUBSCRIBE and friends).</summary>
    public void Post(string command, ReadOnlySpan<RedisArg> args)
    {
        lock (_gate)
        {
            if (_failure is { } failure) throw failure;
            Encode(command, args);
        }
    }

    private void Encode(string command, ReadOnlySpan<RedisArg> args)
    {
        RedisArg.WriteHeader(_buffer, (byte)'*', args.Length + 1);
        RedisArg.WriteCommandName(_buffer, command);
        foreach (var arg in args) arg.WriteTo(_buffer);
        _commandsSinceFlush++;
        if (!_flushScheduled)
        {
            // Queued globally, behind the continuations of callers resumed by the last batch of replies:
            // they run first, so their next commands go out together in one write.
            _flushScheduled = true;
            ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
        }
    }

    void IThreadPoolWorkItem.Execute() => _flushing = FlushAsync();

    /// <summary>Sends everything encoded so far, and whatever is encoded while that is being sent; one flush runs at a time.</summary>
    private async Task FlushAsync()
    {
        try
        {
            int commands;
            while (true)
            {
                lock (_gate)
                {
                    if (_failure is not null || _buffer.WrittenCount == 0)
                    {
                        _flushScheduled = false;
                        return;
                    }
                    (_sending, _buffer) = (_buffer, _sending);
                    commands = _commandsSinceFlush;
                    _commandsSinceFlush = 0;
                }
                // Counted before writing: the replies may be back, and their callers resumed, before the write returns.
                RedisMetrics.Writes.Add(1, _nameTag);
                RedisMetrics.Commands.Add(commands, _nameTag);
                await _stream.WriteAsync(_sending.WrittenMemory).ConfigureAwait(false);
                // One huge command should not pin its buffer for the life of the connection.
                if (_sending.Capacity > RetainedWriteBuffer) _sending = new ArrayBufferWriter<byte>(16 * 1024);
                else _sending.ResetWrittenCount();
            }
        }
        catch (Exception e)
        {
            Fail(new RedisConnectionException($"Lost the connection to Redis while writing: {e.Message}", e));
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: ReadBufferSize, minimumReadSize: ReadBufferSize / 4, leaveOpen: true));
        var replies = new List<RespValue>();
        var partial = false;
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                // A large reply arriving over many reads is scanned for completeness before it is built.
                if (!partial || buffer.Length < ReadBufferSize || RespParser.HasWholeReply(buffer))
                {
                    while (RespParser.TryParse(ref buffer, out var value)) replies.Add(value);
                }
                partial = !buffer.IsEmpty;
                reader.AdvanceTo(buffer.Start, buffer.End);
                if (replies.Count > 0)
                {
                    Dispatch(replies);
                    replies.Clear();
                }
                if (result.IsCompleted) throw new RedisConnectionException("Redis closed the connection");
            }
        }
        catch (Exception e)
        {
            Fail(e as RedisConnectionException ?? new RedisConnectionException($"Lost the connection to Redis: {e.Message}", e));
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

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
        // Completing a reply only queues its caller's continuation: callers' code never runs on the reader.
        foreach (var value in replies)
        {
            if (everyReplyIsPush || value.Kind == RespKind.Push) Push(value);
            else owners[next++].Complete(value);
        }
        if (slots > 0)
        {
            Array.Clear(owners, 0, slots);
            ArrayPool<IReplySlot>.Shared.Return(owners);
        }
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

    private void SweepTimeouts()
    {
        var now = Environment.TickCount64;
        List<IReplySlot>? expired = null;
        lock (_gate)
        {
            // Each call has its own timeout, so deadlines are not in queue order: look at every slot.
            foreach (var reply in _pending)
                if (reply.Deadline <= now && !reply.IsAnswered) (expired ??= []).Add(reply);
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
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        foreach (var reply in inFlight) reply.Fail(failure);
        if (!_disposing) RedisMetrics.ConnectionsLost.Add(1, _nameTag);
        _closed.TrySetResult();
    }

    public async ValueTask DisposeAsync()
    {
        _disposing = true;
        Fail(new RedisConnectionException("The Redis connection was closed"));
        await _timeoutSweep.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(_reader, _flushing).ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
    }
}
