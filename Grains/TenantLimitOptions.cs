namespace Cluster.Grains;

/// <summary>
/// The <c>Limits</c> configuration section: what each tenant (the user whose key or login submitted the work) may use,
/// and its share of the workers. Work of no tenant (an admin's key) is neither counted nor limited, and shares as one
/// tenant of weight 1.
/// </summary>
public sealed class TenantLimitOptions
{
    public const string Section = "Limits";

    /// <summary>Jobs a tenant may submit per UTC day, workflow steps included; 0 (the default) for no limit. Env: <c>Limits__JobsPerDay</c>.</summary>
    public int JobsPerDay { get; set; }

    /// <summary>
    /// Jobs of one tenant assigned or running at once, across the cluster; 0 (the default) for no limit. Its further
    /// jobs wait pending, in their place, until one of its running jobs ends. Env: <c>Limits__RunningJobs</c>.
    /// </summary>
    public int RunningJobs { get; set; }

    /// <summary>
    /// Each tenant's weight in the fair sharing of claims (<c>Limits:Weights:{user id}</c>, env
    /// <c>Limits__Weights__u-…</c>); a tenant not named weighs <see cref="DefaultWeight"/>. A tenant of weight 2 is
    /// given two claims for each one of a tenant of weight 1 while both have jobs waiting.
    /// </summary>
    public Dictionary<string, double> Weights { get; set; } = new(StringComparer.Ordinal);

    public double DefaultWeight { get; set; } = 1;

    public double WeightOf(string? tenant) =>
        tenant is not null && Weights.TryGetValue(tenant, out var weight) ? weight : DefaultWeight;

    /// <summary>What is wrong with the section, or null.</summary>
    public string? Problem() =>
        JobsPerDay < 0 ? "Limits:JobsPerDay must be 0 (no limit) or a positive number of jobs"
        : RunningJobs < 0 ? "Limits:RunningJobs must be 0 (no limit) or a positive number of jobs"
        : !IsWeight(DefaultWeight) ? "Limits:DefaultWeight must be a positive number, at most 1000"
        : Weights.FirstOrDefault(w => !IsWeight(w.Value)) is { Key: { } tenant } ? $"Limits:Weights:{tenant} must be a positive number, at most 1000"
        : null;

    private static bool IsWeight(double weight) => weight is > 0 and <= 1000 && double.IsFinite(weight);
}
