using System.Buffers;
using System.Net.WebSockets;
using System.Text.Json;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Protocol;
using Cluster.Grains.Interfaces.Validation;

namespace Cluster.Silo.Protocol;

/// <summary>What both WebSocket protocols (/ws/worker and /ws) share: reading bounded messages and checking the envelope.</summary>
public static class FrameSocket
{
    public const int MaxIdLength = 64;

    /// <summary>Reads one whole message into <paramref name="buffer"/>; one larger than <paramref name="maxBytes"/> is drained and reported instead.</summary>
    public static async Task<(WebSocketMessageType Kind, bool TooLarge)> ReceiveAsync(WebSocket socket, ArrayBufferWriter<byte> buffer, int maxBytes, CancellationToken cancellationToken)
    {
        buffer.ResetWrittenCount();
        var tooLarge = false;
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer.GetMemory(4096), cancellationToken);
            if (result.MessageType == WebSocketMessageType.Close) return (WebSocketMessageType.Close, false);
            if (!tooLarge) buffer.Advance(result.Count);
            if (buffer.WrittenCount > maxBytes)
            {
                tooLarge = true;
                buffer.ResetWrittenCount();
            }
            if (result.EndOfMessage) return (result.MessageType, tooLarge);
        }
    }

    /// <summary>
    /// The frame's envelope (version, type, id), or the error frame to answer with. A frame without "v"
    /// reads as v1, so seed 001's {type:"subscribe_job", job_id} works unchanged. The whole frame is checked here,
    /// once: one JSON document of valid text (a binary message may carry any bytes; a text message with invalid
    /// UTF-8 never gets here, the socket closes with 1007), so that reading its fields later can only fail on their
    /// types, as a <see cref="JsonException"/>.
    /// </summary>
    public static ErrorFrame? ReadEnvelope(ReadOnlySpan<byte> bytes, out WorkerFrame envelope)
    {
        envelope = new WorkerFrame();
        if (JsonInput.FindProblem(bytes) is { } problem)
            return Error(null, ErrorCodes.ValidationError, "The frame is not a JSON object of the protocol: " + problem);
        try
        {
            envelope = JsonSerializer.Deserialize<WorkerFrame>(bytes, ClusterJson.Input) ?? throw new JsonException("empty frame");
        }
        catch (JsonException e)
        {
            return Error(null, ErrorCodes.ValidationError, "The frame is not a JSON object of the protocol: " + e.Message);
        }
        if (envelope.Id is { Length: > MaxIdLength }) return Error(null, ErrorCodes.ValidationError, $"'id' must be at most {MaxIdLength} characters");
        if (envelope.V != WorkerFrame.ProtocolVersion)
            return Error(envelope.Id, ErrorCodes.UnsupportedVersion, $"This silo speaks protocol version {WorkerFrame.ProtocolVersion}, not {envelope.V}");
        return null;
    }

    /// <summary>A frame checked by <see cref="ReadEnvelope"/>, as its type; a null where the type allows none is a <see cref="JsonException"/>.</summary>
    public static T Read<T>(ReadOnlyMemory<byte> bytes) => JsonSerializer.Deserialize<T>(bytes.Span, ClusterJson.Input) ?? throw new JsonException("empty frame");

    /// <summary>
    /// A frame as UTF-8 JSON, by its runtime type: callers hold frames as the base record, whose contract
    /// would drop the derived fields.
    /// </summary>
    public static byte[] Write(WorkerFrame frame) => JsonSerializer.SerializeToUtf8Bytes(frame, frame.GetType(), ClusterJson.Options);

    public static ErrorFrame Error(string? id, string code, string message) =>
        new() { Type = WorkerFrameTypes.Error, Ack = id, Error = new ErrorBody(code, message) };
}
