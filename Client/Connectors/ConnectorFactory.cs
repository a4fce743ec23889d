using Cluster.Client.Agent;

namespace Cluster.Client.Connectors;

/// <summary>Makes the connector the agent was configured with, one per worker.</summary>
public static class ConnectorFactory
{
    public static IJobConnector Create(ConnectorSettings settings, ConnectorContext context)
    {
        ArgumentNullException.ThrowIfNull(settings);
        return settings.Kind switch
        {
            "simulation" => new SimulationConnector(settings.SimulationDuration, settings.SimulationFailureRate),
            "command" => new CommandConnector(settings.Command!, context),
            "http" => new HttpConnector(settings.Url!, settings.HttpTimeout),
            _ => throw new AgentConfigurationException($"Unknown connector \"{settings.Kind}\"."),
        };
    }
}
