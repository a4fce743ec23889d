using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net.Sockets;

namespace Cluster.Grains.Redis;

/// <summary>
/// One TCP link to Redis, shared by any number of concurrent callers. Commands are encoded into a
/// buffer under a lock, in the same order as their reply slots are queued, and a single writer loop
/// sends whatever has accumulated in one write: pipelining falls out of concurrency for free.
/// Replies come back in order and complete the queued slots one by one.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly NetworkStream _stream;
    private readonly Lock _gate = new();
    private readonly ConcurrentQueue<PendingReply> _pending = new();
    private readonly SemaphoreSlim _flushSignal = new(0);
    private readonly TimeSpan _commandTimeout;
    private readonly Action<RespValue>? _onPush;
    private readonly Task _writer, _reader;
    private readonly Timer _timeoutSweep;
    private ArrayBufferWriter<byte> _buffer = new(16 * 1024), _sending = new(16 * 1024);
    private bool _flushScheduled;
    private volatile RedisConnectionException? _failure;

    private RedisConnection(Socket socket, TimeSpan commandTimeout, Action<RespValue>? onPush)
    {
        _socket = socket;
        _stream = new NetworkStream(socket, ownsSocket: true);
        _commandTimeout = commandTimeout;
        _onPush = onPush;
        _writer = Task.Run(WriteLoopAsync);
        _reader = Task.Run(ReadLoopAsync);
        _timeoutSweep = new Timer(_ => SweepTimeouts(), null, 100, 100);
    }

    /// <summary>Completes (successfully or not) once, when the link dies.</summary>
    public Task Closed => _reader;
    public bool IsHealthy => _failure is null;

    public static async Task<RedisConnection> OpenAsync(RedisOptions options, Action<RespValue>? onPush, CancellationToken cancellationToken)
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
        var connection = new RedisConnection(socket, options.CommandTimeout, onPush);
        try
        {
            await connection.HandshakeAsync(options).ConfigureAwait(false);
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        return connection;
    }

    private async Task HandshakeAsync(RedisOptions options)
    {
        var steps = new List<Task<RespValue>>();
        if (options.Protocol == 3)
            steps.Add(options.Password is null
                ? Send("HELLO", ["3"], default, null)
                : Send("HELLO", ["3", "AUTH", options.User ?? "default", options.Password], default, null));
        else if (options.Password is not null)
            steps.Add(options.User is null ? Send("AUTH", [options.Password], default, null) : Send("AUTH", [options.User, options.Password], default, null));
        if (options.Database != 0) steps.Add(Send("SELECT", [options.Database], default, null));
        steps.Add(Send("CLIENT", ["SETNAME", options.ClientName], default, null));
        await Task.WhenAll(steps).ConfigureAwait(false);
    }

    public Task<RespValue> Send(string command, ReadOnlySpan<RedisArg> args, CancellationToken cancellationToken, TimeSpan? timeout)
    {
        if (cancellationToken.IsCancellationRequested) return Task.FromCanceled<RespValue>(cancellationToken);
        var reply = new PendingReply(command, Environment.TickCount64 + (long)(timeout ?? _commandTimeout).TotalMilliseconds);
        lock (_gate)
        {
            if (_failure is { } failure) return Task.FromException<RespValue>(failure);
            RedisArg.WriteHeader(_buffer, (byte)'*', args.Length + 1);
            ((RedisArg)command).WriteTo(_buffer);
            foreach (var arg in args) arg.WriteTo(_buffer);
            _pending.Enqueue(reply);
            if (!_flushScheduled)
            {
                _flushScheduled = true;
                _flushSignal.Release();
            }
        }
        if (cancellationToken.CanBeCanceled) reply.CancelWith(cancellationToken);
        return reply.Task;
    }

    private async Task WriteLoopAsync()
    {
        try
        {
            while (true)
            {
                await _flushSignal.WaitAsync().ConfigureAwait(false);
                if (_failure is not null) return;
                lock (_gate)
                {
                    (_sending, _buffer) = (_buffer, _sending);
                    _flushScheduled = false;
                }
                await _stream.WriteAsync(_sending.WrittenMemory).ConfigureAwait(false);
                _sending.ResetWrittenCount();
            }
        }
        catch (Exception e)
        {
            Fail(new RedisConnectionException("Lost the connection to Redis while writing", e));
        }
    }

    private async Task ReadLoopAsync()
    {
        var reader = PipeReader.Create(_stream, new StreamPipeReaderOptions(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true));
        try
        {
            while (true)
            {
                var result = await reader.ReadAsync().ConfigureAwait(false);
                var buffer = result.Buffer;
                while (RespParser.TryParse(ref buffer, out var value))
                {
                    if (value.Kind == RespKind.Push && _onPush is not null)
                    {
                        _onPush(value);
                        continue;
                    }
                    if (!_pending.TryDequeue(out var reply))
                    {
                        if (_onPush is not null) { _onPush(value); continue; } // RESP2 pub/sub messages are plain arrays
                        throw new RedisProtocolException($"Redis sent a reply nobody asked for: {value}");
                    }
                    reply.Complete(value);
                }
                reader.AdvanceTo(buffer.Start, buffer.End);
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

    private void SweepTimeouts()
    {
        var now = Environment.TickCount64;
        foreach (var reply in _pending)
        {
            if (reply.Deadline > now) break; // later slots were queued later; their deadlines are later too
            reply.TimeOut();
        }
    }

    private void Fail(RedisConnectionException failure)
    {
        lock (_gate)
        {
            if (_failure is not null) return;
            _failure = failure;
        }
        _flushSignal.Release();
        try { _socket.Shutdown(SocketShutdown.Both); } catch (SocketException) { } catch (ObjectDisposedException) { }
        while (_pending.TryDequeue(out var reply)) reply.Fail(failure);
    }

    public async ValueTask DisposeAsync()
    {
        Fail(new RedisConnectionException("The Redis connection was closed"));
        await _timeoutSweep.DisposeAsync().ConfigureAwait(false);
        await Task.WhenAll(_reader, _writer).ConfigureAwait(false);
        await _stream.DisposeAsync().ConfigureAwait(false);
        _flushSignal.Dispose();
    }

    /// <summary>A caller waiting for its reply; completed exactly once by a reply, a failure, a timeout or a cancellation.</summary>
    private sealed class PendingReply(string command, long deadline) : TaskCompletionSource<RespValue>(TaskCreationOptions.RunContinuationsAsynchronously)
    {
        private CancellationTokenRegistration _registration;
        public long Deadline { get; } = deadline;

        public void CancelWith(CancellationToken token) =>
            _registration = token.UnsafeRegister(static (state, t) => ((PendingReply)state!).TrySetCanceled(t), this);

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
            if (!Task.IsCompleted) TrySetException(new RedisTimeoutException($"Redis did not answer {command} in time"));
        }
    }
}
