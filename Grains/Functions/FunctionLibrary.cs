using System.Reflection;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Functions;

/// <summary>The Lua library in which every grain transition runs, embedded in this assembly and loaded at silo start.</summary>
public static class FunctionLibrary
{
    public const string Name = "cluster";

    /// <summary>The library's source, as embedded from <c>Grains/Lua/cluster.lua</c>.</summary>
    public static string Source { get; } = ReadSource();

    /// <summary>The LIBRARY_VERSION the source declares.</summary>
    public static string Version { get; } = ParseVersion(Source);

    /// <summary>Loads (or replaces) the library and returns the version Redis now reports.</summary>
    public static async Task<string> LoadAsync(IRedis redis, CancellationToken cancellationToken = default)
    {
        await redis.ExecuteAsync("FUNCTION", ["LOAD", "REPLACE", Source], cancellationToken).ConfigureAwait(false);
        return await LoadedVersionAsync(redis, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The cluster function library did not load");
    }

    /// <summary>The version of the library loaded in Redis now, or null if none is.</summary>
    public static async Task<string?> LoadedVersionAsync(IRedis redis, CancellationToken cancellationToken = default)
    {
        try
        {
            var reply = await redis.ExecuteAsync("FCALL_RO", ["cluster_version", 0], cancellationToken).ConfigureAwait(false);
            return reply.AsString();
        }
        catch (RedisServerException e) when (e.Message.Contains("Function not found", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
    }

    private static string ReadSource()
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("Cluster.Grains.Lua.cluster.lua")
            ?? throw new InvalidOperationException("cluster.lua is not embedded in Cluster.Grains");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    private static string ParseVersion(string source)
    {
        const string marker = "local LIBRARY_VERSION = '";
        var start = source.IndexOf(marker, StringComparison.Ordinal) + marker.Length;
        return source[start..source.IndexOf('\'', start)];
    }
}
