namespace Cluster.Client.Cli;

/// <summary>The CLI's exit codes, for scripts.</summary>
public static class ExitCodes
{
    public const int Ok = 0;
    /// <summary>The silo refused the request, or a waited-for job ended dead or cancelled.</summary>
    public const int Failed = 1;
    /// <summary>The command line or the configuration is wrong; nothing was sent.</summary>
    public const int Usage = 2;
    /// <summary>The silo could not be reached.</summary>
    public const int Unreachable = 3;
    /// <summary>Interrupted (Ctrl-C) while waiting.</summary>
    public const int Interrupted = 130;
}

/// <summary>A wrong option or missing configuration, reported in one line with exit code 2.</summary>
public sealed class CliUsageException(string message) : Exception(message);
