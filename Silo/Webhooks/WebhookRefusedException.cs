namespace Cluster.Silo.Webhooks;

/// <summary>The webhook's host resolved only to addresses the <see cref="WebhookUrlPolicy"/> refuses; retrying will not help.</summary>
public sealed class WebhookRefusedException(string message) : Exception(message);
