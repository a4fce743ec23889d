namespace Cluster.Grains.Redis;

/// <summary>Base of every error the Redis client raises.</summary>
public class RedisException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>Redis answered with an error reply. <see cref="Code"/> is its first word (ERR, WRONGTYPE, NOSCRIPT…).</summary>
public sealed class RedisServerException(string message) : RedisException(message)
{
    public string Code { get; } = message.Split(' ', 2)[0];
}

/// <summary>The link to Redis failed; a command that was in flight may or may not have run.</summary>
public sealed class RedisConnectionException(string message, Exception? inner = null) : RedisException(message, inner);

/// <summary>No reply came within the command's timeout; the command may still run.</summary>
public sealed class RedisTimeoutException(string message) : RedisException(message);

/// <summary>The bytes from the server are not valid RESP; the connection is dropped.</summary>
public sealed class RedisProtocolException(string message) : RedisException(message);

/// <summary>The connection string cannot be understood.</summary>
public sealed class RedisConfigurationException(string message) : RedisException(message);
