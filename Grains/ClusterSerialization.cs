using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;

namespace Cluster.Grains;

public static class ClusterSerialization
{
    /// <summary>
    /// The system's records carry JSON documents (a job's payload and result) as <c>JsonNode</c>s; Orleans'
    /// System.Text.Json codec carries those, and only those: everything else uses the generated serializers. Every
    /// silo and client that loads the grain interfaces needs it: Orleans checks at start that each of their types
    /// can be serialised.
    /// </summary>
    public static IServiceCollection AddClusterSerializers(this IServiceCollection services) =>
        services.AddSerializer(serializer => serializer.AddJsonSerializer(isSupported: null));
}
