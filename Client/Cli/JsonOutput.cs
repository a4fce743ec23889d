using System.Text.Json;
using Cluster.Grains.Interfaces;

namespace Cluster.Client.Cli;

/// <summary>Indented snake_case JSON, as the API speaks it.</summary>
public static class JsonOutput
{
    private static readonly JsonSerializerOptions Indented = new(ClusterJson.Options) { WriteIndented = true };

    public static string Pretty<T>(T value) => JsonSerializer.Serialize(value, Indented);
}
