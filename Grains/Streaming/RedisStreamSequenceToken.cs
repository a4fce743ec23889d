using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using Orleans.Streams;
using StackExchange.Redis;

namespace Cluster.Grains.Streaming;

/// <summary>
/// The position of an event on a Redis-backed stream: the id of its Redis stream entry (<c>milliseconds-sequence</c>) and
/// its index in the entry's batch. <see cref="EntryId"/> is the event's public id: a consumer can hand it to a client,
/// which resumes with XRANGE on the topic's key from there.
/// </summary>
/// <remarks>
/// Tokens compare exactly by (milliseconds, sequence, event index), which is the topic's order. Orleans also reads
/// <see cref="SequenceNumber"/>, a long: it packs the milliseconds above 20 bits of sequence, which orders ids made by
/// XADD's <c>*</c> exactly until the year 2248 and as long as one millisecond holds fewer than 2^20 entries; beyond that
/// it saturates (never reorders).
/// </remarks>
[GenerateSerializer, Immutable, Alias("cluster.streaming.redis-token")]
public sealed class RedisStreamSequenceToken : StreamSequenceToken
{
    private const int SequenceBits = 20;
    private const long MaxSequence = (1L << SequenceBits) - 1;
    private const long MaxMilliseconds = long.MaxValue >> SequenceBits;

    [Id(0)] private readonly long _milliseconds;
    [Id(1)] private readonly long _sequence;
    [Id(2)] private readonly int _eventIndex;

    public RedisStreamSequenceToken(long milliseconds, long sequence, int eventIndex = 0)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(milliseconds);
        ArgumentOutOfRangeException.ThrowIfNegative(sequence);
        ArgumentOutOfRangeException.ThrowIfNegative(eventIndex);
        _milliseconds = milliseconds;
        _sequence = sequence;
        _eventIndex = eventIndex;
    }

    /// <summary>The first part of the entry id: Redis's clock when the entry was added, in Unix milliseconds.</summary>
    public long Milliseconds => _milliseconds;

    /// <summary>The second part of the entry id: its number among the entries of the same millisecond.</summary>
    public long Sequence => _sequence;

    /// <summary>The Redis stream entry id, <c>milliseconds-sequence</c>: the event's public id.</summary>
    public string EntryId => string.Create(CultureInfo.InvariantCulture, $"{_milliseconds}-{_sequence}");

    public override long SequenceNumber
    {
        get => Math.Min(_milliseconds, MaxMilliseconds) << SequenceBits | Math.Min(_sequence, MaxSequence);
        protected set => throw new NotSupportedException("A Redis stream token is immutable.");
    }

    public override int EventIndex
    {
        get => _eventIndex;
        protected set => throw new NotSupportedException("A Redis stream token is immutable.");
    }

    /// <summary>The token of the event at <paramref name="eventIndex"/> in the same entry.</summary>
    public RedisStreamSequenceToken CreateSequenceTokenForEvent(int eventIndex) =>
        eventIndex == _eventIndex ? this : new(_milliseconds, _sequence, eventIndex);

    /// <summary>Reads an entry id, <c>milliseconds-sequence</c> (or just <c>milliseconds</c>, as XRANGE accepts).</summary>
    public static bool TryParse(ReadOnlySpan<char> entryId, int eventIndex, [NotNullWhen(true)] out RedisStreamSequenceToken? token)
    {
        token = null;
        var dash = entryId.IndexOf('-');
        var msText = dash < 0 ? entryId : entryId[..dash];
        long seq = 0;
        if (!long.TryParse(msText, NumberStyles.None, CultureInfo.InvariantCulture, out var ms)) return false;
        if (dash >= 0 && !long.TryParse(entryId[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out seq)) return false;
        if (eventIndex < 0) return false;
        token = new RedisStreamSequenceToken(ms, seq, eventIndex);
        return true;
    }

    /// <summary>The token of the first event of the entry with this id, as Redis returns it.</summary>
    /// <exception cref="FormatException">The value is not a stream entry id.</exception>
    public static RedisStreamSequenceToken Parse(RedisValue entryId)
    {
        var text = ((ReadOnlyMemory<byte>)entryId).Span;
        var dash = text.IndexOf((byte)'-');
        if (dash > 0
            && Utf8Parser.TryParse(text[..dash], out long ms, out var msLength) && msLength == dash && ms >= 0
            && Utf8Parser.TryParse(text[(dash + 1)..], out long seq, out var seqLength) && seqLength == text.Length - dash - 1 && seq >= 0)
        {
            return new RedisStreamSequenceToken(ms, seq);
        }
        throw new FormatException($"'{entryId}' is not a Redis stream entry id.");
    }

    public override bool Equals(StreamSequenceToken? other) =>
        other is RedisStreamSequenceToken token
        && token._milliseconds == _milliseconds && token._sequence == _sequence && token._eventIndex == _eventIndex;

    public override bool Equals(object? obj) => obj is StreamSequenceToken other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(_milliseconds, _sequence, _eventIndex);

    public override int CompareTo(StreamSequenceToken? other)
    {
        if (other is null) return 1;
        if (other is RedisStreamSequenceToken token)
        {
            var c = _milliseconds.CompareTo(token._milliseconds);
            if (c == 0) c = _sequence.CompareTo(token._sequence);
            return c != 0 ? c : _eventIndex.CompareTo(token._eventIndex);
        }
        // A token of another kind (one a consumer kept from elsewhere): Orleans' own convention.
        var bySequence = SequenceNumber.CompareTo(other.SequenceNumber);
        return bySequence != 0 ? bySequence : _eventIndex.CompareTo(other.EventIndex);
    }

    public override string ToString() => _eventIndex == 0 ? EntryId : string.Create(CultureInfo.InvariantCulture, $"{_milliseconds}-{_sequence}#{_eventIndex}");
}
