namespace Cluster.Silo.Api;

/// <summary>
/// Enforces the size limit on a chunked request body, which has no Content-Length to check up front.
/// </summary>
/// <remarks>
/// Kestrel's own limit would do it, but once Kestrel stops a body it closes the connection with the rest
/// of the upload unread, and the kernel answers that with a reset that can destroy the 413 before the
/// client reads it. Counting here leaves Kestrel's body intact, so after the answer Kestrel drains the rest
/// (for at most five seconds) and the client gets the 413. Minimal APIs swallow the error while binding and
/// answer a bare 400; the mark lets the status-code page turn that into 413.
/// </remarks>
public sealed class BodyLimitStream(Stream inner, HttpContext context, long limit) : Stream
{
    private static readonly object Marker = new();
    private long _read;

    public static bool LimitWasHit(HttpContext context) => context.Items.ContainsKey(Marker);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Count(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => Count(inner.Read(buffer, offset, count));

    private int Count(int read)
    {
        _read += read;
        if (_read <= limit) return read;
        context.Items[Marker] = true;
        throw new BadHttpRequestException(ApiErrorMiddleware.TooLarge(limit), StatusCodes.Status413PayloadTooLarge);
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => throw new NotSupportedException();
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }
    public override void Flush() { }
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
