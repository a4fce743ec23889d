using System.Text.RegularExpressions;
using Serilog.Core;
using Serilog.Events;

namespace Cluster.Silo.Hosting;

/// <summary>
/// Masks secrets that reach log properties by way of URLs and connection strings: the <c>api_key</c> query
/// parameter WebSocket clients must use, and <c>password=</c> options. ASP.NET Core logs request query
/// strings at Information, so this is the last line of defence whatever the configured levels.
/// </summary>
public sealed partial class SecretRedactingEnricher : ILogEventEnricher
{
    public void Enrich(LogEvent logEvent, ILogEventPropertyFactory propertyFactory)
    {
        List<LogEventProperty>? replaced = null;
        foreach (var (name, value) in logEvent.Properties)
        {
            if (value is ScalarValue { Value: string text } && Redact(text) is var redacted && !ReferenceEquals(redacted, text))
                (replaced ??= []).Add(new LogEventProperty(name, new ScalarValue(redacted)));
        }
        if (replaced is null) return;
        foreach (var property in replaced) logEvent.AddOrUpdateProperty(property);
    }

    /// <summary>The text with secret values replaced by <c>***</c>; the same instance when there is nothing to hide.</summary>
    public static string Redact(string text)
    {
        if (!text.Contains("api_key", StringComparison.OrdinalIgnoreCase) && !text.Contains("password", StringComparison.OrdinalIgnoreCase))
            return text;
        var redacted = Secret().Replace(text, "$1***");
        return redacted == text ? text : redacted;
    }

    [GeneratedRegex(@"((?:api_key|password)=)[^&,;\s]+", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex Secret();
}
