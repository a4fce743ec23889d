namespace Cluster.Silo.Gateway;

/// <summary>
/// A frame waiting to be sent, in one or two parts: an event shared by many subscribers is serialized
/// once (the tail) and each subscriber only adds its own small head, so fan-out copies nothing.
/// </summary>
public readonly record struct OutboundFrame(byte[] Head, byte[]? Tail, bool IsControl);
