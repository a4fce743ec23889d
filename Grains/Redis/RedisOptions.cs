using System.Globalization;

namespace Cluster.Grains.Redis;

/// <summary>Where and how to connect: parsed from <c>host:port[,password=…][,user=…][,database=N][,name=…][,timeout=ms][,protocol=2|3]</c>.</summary>
public sealed record RedisOptions
{
    public required string Host { get; init; }
    public int Port { get; init; } = 6379;
    public string? User { get; init; }
    public string? Password { get; init; }
    public int Database { get; init; }
    public string ClientName { get; init; } = "cluster";
    /// <summary>How long a command may wait for its reply before it fails with <see cref="RedisTimeoutException"/>.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>2 (the default) or 3; with 3 the client sends HELLO 3 and replies carry RESP3 types.</summary>
    public int Protocol { get; init; } = 2;

    public static RedisOptions Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new RedisConfigurationException("The Redis connection string is empty; expected host:port[,password=…]");
        var parts = connectionString.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var endpoint = parts[0];
        var colon = endpoint.LastIndexOf(':');
        var host = colon < 0 ? endpoint : endpoint[..colon];
        var port = 6379;
        if (colon >= 0 && (!int.TryParse(endpoint[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
            throw new RedisConfigurationException($"'{endpoint}' has no valid port; expected host:port such as localhost:6379");
        if (host.Length == 0 || host.Contains('='))
            throw new RedisConfigurationException($"The Redis connection string must start with host:port, not '{endpoint}'");
        var options = new RedisOptions { Host = host.Trim('[', ']'), Port = port };
        foreach (var part in parts.Skip(1))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new RedisConfigurationException($"'{part}' is not key=value in the Redis connection string");
            var (key, value) = (part[..eq].ToLowerInvariant(), part[(eq + 1)..]);
            options = key switch
            {
                "password" => options with { Password = value },
                "user" => options with { User = value },
                "database" or "db" => options with { Database = ParseInt(key, value, 0, 10_000) },
                "name" => options with { ClientName = value },
                "timeout" => options with { CommandTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, 1, int.MaxValue)) },
                "connecttimeout" => options with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, 1, int.MaxValue)) },
                "protocol" => options with { Protocol = ParseInt(key, value, 2, 3) },
                _ => throw new RedisConfigurationException($"Unknown Redis connection string option '{part[..eq]}'"),
            };
        }
        return options;
    }

    private static int ParseInt(string key, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new RedisConfigurationException($"'{key}={value}' must be a whole number from {min} to {max}");

    /// <summary>The connection string without secrets, for logs.</summary>
    public override string ToString() => $"{Host}:{Port}" + (Database != 0 ? $",database={Database}" : "") + (Password is null ? "" : ",password=***");
}
