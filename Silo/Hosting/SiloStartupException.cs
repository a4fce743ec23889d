namespace Cluster.Silo.Hosting;

/// <summary>
/// The silo cannot start for a reason an operator can fix. Its message is one line that says what is
/// wrong and what to do; it is printed to stderr without a stack trace.
/// </summary>
public sealed class SiloStartupException(string message, Exception? inner = null) : Exception(message, inner);
