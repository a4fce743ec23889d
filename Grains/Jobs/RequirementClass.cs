using System.Globalization;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Grains.Jobs;

/// <summary>
/// A job's requirements normalised: capabilities sorted
/// (ordinal, duplicates kept), no GPU minimum is 0, no model is "", no pool is <c>standard</c>. Jobs of one
/// class are interchangeable to every worker, which is what lets a claim look at class heads only.
/// </summary>
public sealed class RequirementClass : IEquatable<RequirementClass>
{
    public const string DefaultPool = "standard";

    private readonly string[] _capabilities;
    private readonly int _hash;

    private RequirementClass(double gpuMemory, string modelType, string[] capabilities, string pool)
    {
        // -0 and 0 must be one class, as they are one number in Lua.
        GpuMemory = gpuMemory == 0 ? 0 : gpuMemory;
        ModelType = modelType;
        _capabilities = capabilities;
        Pool = pool;
        var hash = new HashCode();
        hash.Add(GpuMemory);
        hash.Add(ModelType);
        hash.Add(Pool);
        foreach (var capability in _capabilities) hash.Add(capability);
        _hash = hash.ToHashCode();
    }

    public double GpuMemory { get; }
    public string ModelType { get; }
    public IReadOnlyList<string> Capabilities => _capabilities;
    public string Pool { get; }

    public static RequirementClass From(JobRequirements? requirements)
    {
        var capabilities = requirements?.Capabilities is { } listed ? listed.Select(c => c ?? "").ToArray() : [];
        Array.Sort(capabilities, StringComparer.Ordinal);
        return new RequirementClass(
            requirements?.GpuMemory ?? 0,
            requirements?.ModelType ?? "",
            capabilities,
            PoolOrDefault(requirements?.PoolPreference));
    }

    /// <summary>A pool: missing or empty means <c>standard</c>.</summary>
    public static string PoolOrDefault(string? pool) => string.IsNullOrEmpty(pool) ? DefaultPool : pool;

    /// <summary>Whether a worker can serve the class: enough GPU memory, the model if one is named, every capability.</summary>
    public bool CanServe(WorkerCapabilities worker)
    {
        ArgumentNullException.ThrowIfNull(worker);
        if (GpuMemory > worker.GpuMemory) return false;
        if (ModelType.Length > 0 && !Holds(worker.ModelTypes, ModelType)) return false;
        foreach (var capability in _capabilities)
        {
            if (!Holds(worker.Capabilities, capability)) return false;
        }
        return true;
    }

    // Deserialised capabilities may hold nulls where the type says otherwise; they count as "".
    private static bool Holds(IReadOnlyList<string>? items, string value)
    {
        if (items is null) return false;
        for (var i = 0; i < items.Count; i++)
        {
            if (string.Equals(items[i] ?? "", value, StringComparison.Ordinal)) return true;
        }
        return false;
    }

    public bool Equals(RequirementClass? other) =>
        ReferenceEquals(this, other) || other is not null && _hash == other._hash
        && GpuMemory.Equals(other.GpuMemory)
        && string.Equals(ModelType, other.ModelType, StringComparison.Ordinal)
        && string.Equals(Pool, other.Pool, StringComparison.Ordinal)
        && _capabilities.AsSpan().SequenceEqual(other._capabilities);

    public override bool Equals(object? obj) => Equals(obj as RequirementClass);

    public override int GetHashCode() => _hash;

    /// <summary>The class's id (the GPU minimum to 14 significant digits, so that equal numbers give one id).</summary>
    public override string ToString() =>
        "g=" + GpuMemory.ToString("G14", CultureInfo.InvariantCulture) + ";m=" + ModelType
        + ";c=" + string.Join(',', _capabilities) + ";p=" + Pool;
}
