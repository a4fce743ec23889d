namespace Cluster.Grains.RedisServer;

/// <summary>The Redis connection string, or the redis-server install, cannot be used; the message says how to fix it.</summary>
public sealed class RedisConfigurationException(string message) : Exception(message);

/// <summary>redis-server exited on start, or did not answer within its start timeout.</summary>
public sealed class RedisServerStartException(string message, Exception? inner = null) : Exception(message, inner);
