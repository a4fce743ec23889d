using System.Globalization;

namespace Cluster.Grains.RedisServer;

/// <summary>Where and how to connect: parsed from <c>host:port[,password=…][,user=…][,database=N][,name=…][,timeout=ms][,protocol=2|3]</c>.</summary>
public sealed record RedisOptions
{
    public required string Host { get; init; }
    public int Port { get; init; } = 6379;
    public string? User { get; init; }
    public string? Password { get; init; }
    public int Database { get; init; }
    public string ClientName { get; init; } = "cluster";
    /// <summary>How long a command may wait for its reply before it fails.</summary>
    public TimeSpan CommandTimeout { get; init; } = TimeSpan.FromSeconds(10);
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);
    /// <summary>2 (the default) or 3: the RESP version the connection speaks.</summary>
    public int Protocol { get; init; } = 2;

    /// <summary>
    /// Reads <c>host:port[,key=value…]</c>. Keys: password, user, database (or db), name, timeout and
    /// connecttimeout (milliseconds), protocol (2 or 3). An IPv6 host goes in brackets: <c>[::1]:6379</c>.
    /// </summary>
    /// <exception cref="RedisConfigurationException">The string is malformed; the message says how.</exception>
    public static RedisOptions Parse(string connectionString)
    {
        if (string.IsNullOrWhiteSpace(connectionString))
            throw new RedisConfigurationException("The Redis connection string is empty; expected host:port[,password=…]");
        if (connectionString.Contains("://", StringComparison.Ordinal))
            throw new RedisConfigurationException($"The Redis connection string is host:port[,key=value…], not a URL such as redis://host:port");
        var parts = connectionString.Split(',', StringSplitOptions.TrimEntries);
        var options = ParseEndpoint(parts[0]);
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var part in parts.Skip(1).Where(p => p.Length > 0))
        {
            var eq = part.IndexOf('=');
            if (eq <= 0) throw new RedisConfigurationException($"'{Redact(part)}' is not key=value in the Redis connection string");
            var (key, value) = (part[..eq].Trim().ToLowerInvariant(), part[(eq + 1)..].Trim());
            if (key == "db") key = "database";
            if (!seen.Add(key)) throw new RedisConfigurationException($"The Redis connection string sets '{key}' twice");
            if (value.Length == 0) throw new RedisConfigurationException($"'{key}=' in the Redis connection string has no value");
            options = key switch
            {
                "password" => options with { Password = value },
                "user" => options with { User = value },
                "database" => options with { Database = ParseInt(key, value, 0, 10_000) },
                "name" => value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))
                    ? throw new RedisConfigurationException($"'name={value}': a Redis client name cannot contain spaces")
                    : options with { ClientName = value },
                "timeout" => options with { CommandTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, 1, int.MaxValue)) },
                "connecttimeout" => options with { ConnectTimeout = TimeSpan.FromMilliseconds(ParseInt(key, value, 1, int.MaxValue)) },
                "protocol" => options with { Protocol = ParseInt(key, value, 2, 3) },
                _ => throw new RedisConfigurationException(
                    $"Unknown Redis connection string option '{part[..eq].Trim()}'; known: password, user, database, name, timeout, connecttimeout, protocol"),
            };
        }
        if (options.User is not null && options.Password is null)
            throw new RedisConfigurationException("The Redis connection string names a user but no password");
        return options;
    }

    private static RedisOptions ParseEndpoint(string endpoint)
    {
        const string Expected = "expected host:port such as localhost:6379 or [::1]:6379";
        if (endpoint.Length == 0 || endpoint.Contains('='))
            throw new RedisConfigurationException($"The Redis connection string must start with host:port, not '{Redact(endpoint)}'");
        string host;
        string? port;
        if (endpoint.StartsWith('['))
        {
            var close = endpoint.IndexOf(']', StringComparison.Ordinal);
            if (close < 0) throw new RedisConfigurationException($"'{endpoint}' opens a bracket it does not close; {Expected}");
            host = endpoint[1..close];
            var rest = endpoint[(close + 1)..];
            if (rest.Length > 0 && rest[0] != ':') throw new RedisConfigurationException($"'{endpoint}' has text after the bracketed host; {Expected}");
            port = rest.Length > 0 ? rest[1..] : null;
        }
        else
        {
            var colon = endpoint.IndexOf(':', StringComparison.Ordinal);
            if (colon != endpoint.LastIndexOf(':')) throw new RedisConfigurationException($"'{endpoint}' looks like an IPv6 address; put it in brackets: [{endpoint}]:6379");
            host = colon < 0 ? endpoint : endpoint[..colon];
            port = colon < 0 ? null : endpoint[(colon + 1)..];
        }
        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
            throw new RedisConfigurationException($"'{endpoint}' has no valid host; {Expected}");
        var number = 6379;
        if (port is not null && (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out number) || number is < 1 or > 65535))
            throw new RedisConfigurationException($"'{endpoint}' has no valid port (1-65535); {Expected}");
        return new RedisOptions { Host = host, Port = number };
    }

    private static string Redact(string text)
    {
        var at = text.IndexOf("password=", StringComparison.OrdinalIgnoreCase);
        return at < 0 ? text : text[..(at + "password=".Length)] + "***";
    }

    private static int ParseInt(string key, string value, int min, int max) =>
        int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n >= min && n <= max
            ? n
            : throw new RedisConfigurationException($"'{key}={value}' must be a whole number from {min} to {max}");

    /// <summary>The connection string without secrets, for logs.</summary>
    public override string ToString() => $"{Host}:{Port}" + (Database != 0 ? $",database={Database}" : "") + (Password is null ? "" : ",password=***");
}
