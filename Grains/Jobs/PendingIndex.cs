using System.Diagnostics.CodeAnalysis;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;

namespace Cluster.Grains.Jobs;

/// <summary>A claimable job as the pending index holds it.</summary>
/// <param name="JobId">The job's id; the index holds each id once.</param>
/// <param name="Priority">0–1000, higher served first.</param>
/// <param name="Sequence">Enqueue order, lower served first within a priority.</param>
/// <param name="Requirements">What the worker must offer; null asks for nothing but the standard pool.</param>
/// <param name="Tenant">The user whose job it is; null for work of no tenant (an admin's key), which shares as one tenant.</param>
public sealed record PendingJob(string JobId, int Priority, long Sequence, JobRequirements? Requirements = null, string? Tenant = null);

/// <summary>
/// Every claimable job of the cluster in memory, served for claims. Of the jobs a worker can serve, it is given:
/// <list type="number">
/// <item>one of its own pool before any of another pool;</item>
/// <item>among those, one of the tenant furthest behind its fair share (start-time fair queuing, below), leaving out a
/// tenant that has <see cref="TenantLimitOptions.RunningJobs"/> jobs held already;</item>
/// <item>among that tenant's jobs, the highest priority, then the earliest sequence.</item>
/// </list>
/// Fair share: each tenant has a virtual start time. A claim of its job moves it on by 1 / its weight, and sets the
/// index's virtual time to where the tenant stood; a tenant whose first job arrives starts at the later of its own
/// time and the index's, so that a quiet spell earns it no burst. Tenants with jobs waiting for the same workers are so
/// served in turn, each in proportion to its weight, and a tie goes to the higher priority, then the earlier job. With
/// one tenant, the order is exactly pool, priority, sequence.
/// <para>
/// Jobs are grouped by <see cref="RequirementClass"/> and tenant, so a claim reads one head per group the worker can
/// serve and never walks the backlog. It also keeps the idle workers, grouped by requirement class, so that a new job
/// can be pushed to one (<see cref="TryMatch"/>). One owner at a time: it is not thread-safe.
/// </para>
/// </summary>
public sealed class PendingIndex(TenantLimitOptions? limits = null)
{
    // A tenant's virtual time in whole units, so that comparing two costs no floating point: a claim of weight 1 is this.
    private const double VirtualUnit = 1_000_000;

    // Distinct worker capability shapes are few in a real cluster; past this, shapes with no idle worker are
    // dropped so that a client reporting ever-changing capabilities cannot grow the cache without bound.
    private const int MaxShapes = 1024;

    private readonly Dictionary<string, (PendingJob Job, JobClass Class)> _jobs = new(StringComparer.Ordinal);
    private readonly Dictionary<(RequirementClass, string), JobClass> _classes = [];
    private readonly Dictionary<string, TenantShare> _tenants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, TenantShare> _held = new(StringComparer.Ordinal);
    private readonly TenantLimitOptions _limits = limits ?? new TenantLimitOptions();
    private long _virtualNow;
    private readonly Dictionary<WorkerCapabilities, WorkerShape> _shapes = new(ShapeComparer.Instance);
    private readonly Dictionary<string, (WorkerShape Shape, LinkedListNode<IdleWorker> Node)> _idle = new(StringComparer.Ordinal);
    private long _idleSequence;

    /// <summary>Claimable jobs held.</summary>
    public int Count => _jobs.Count;

    /// <summary>Groups of one requirement class and tenant with at least one job: an empty group is dropped at once.</summary>
    public int ClassCount => _classes.Count;

    public int IdleWorkerCount => _idle.Count;

    /// <summary>Class heads read by peeks and claims since the index was made: the whole cost of choosing.</summary>
    internal long ClassesExamined { get; private set; }

    public bool Contains(string jobId) => _jobs.ContainsKey(jobId);

    public bool TryGet(string jobId, [MaybeNullWhen(false)] out PendingJob job)
    {
        var found = _jobs.TryGetValue(jobId, out var held);
        job = held.Job;
        return found;
    }

    /// <summary>How many jobs wait with requirements of the same class as <paramref name="requirements"/>, of any tenant.</summary>
    public int CountOf(JobRequirements? requirements)
    {
        var key = RequirementClass.From(requirements);
        return _classes.Values.Where(c => c.Key.Equals(key)).Sum(c => c.Jobs.Count);
    }

    /// <summary>Each non-empty group's requirement class and its number of jobs.</summary>
    public IEnumerable<(RequirementClass Class, int Count)> Classes => _classes.Values.Select(c => (c.Key, c.Jobs.Count));

    /// <summary>The jobs of <paramref name="tenant"/> waiting here, and those it holds (claimed, not yet ended).</summary>
    public (int Pending, int Held) UsageOf(string? tenant) =>
        _tenants.TryGetValue(tenant ?? "", out var share) ? (share.Pending, share.Held.Count) : (0, 0);

    /// <summary>Every tenant with jobs waiting or held, and how many of each; work of no tenant is the empty name.</summary>
    public IEnumerable<(string Tenant, int Pending, int Held)> Tenants => _tenants.Values.Select(t => (t.Name, t.Pending, t.Held.Count));

    /// <summary>
    /// Holds <paramref name="job"/>. An id already held with the same priority, sequence and class is left
    /// as it is (false); with any of them different, it moves to its new place.
    /// </summary>
    public bool Add(PendingJob job)
    {
        ArgumentNullException.ThrowIfNull(job);
        var key = (RequirementClass.From(job.Requirements), job.Tenant ?? "");
        var moving = _jobs.TryGetValue(job.JobId, out var held);
        if (moving && held.Job.Priority == job.Priority && held.Job.Sequence == job.Sequence && held.Class.Key.Equals(key.Item1)
            && held.Class.Tenant.Name == key.Item2) return false;

        if (!_classes.TryGetValue(key, out var cls)) cls = Open(key);
        cls.Tenant.Pending++;
        // Added before the old place is left, so a move within one class never empties and reopens it.
        cls.Add(job);
        if (moving) Leave(held.Job, held.Class);
        _jobs[job.JobId] = (job, cls);
        return true;
    }

    public bool Remove(string jobId)
    {
        if (!_jobs.Remove(jobId, out var held)) return false;
        Leave(held.Job, held.Class);
        return true;
    }

    /// <summary>The job <paramref name="worker"/> would claim, left in the index.</summary>
    public bool TryPeek(WorkerCapabilities worker, [MaybeNullWhen(false)] out PendingJob job)
    {
        ArgumentNullException.ThrowIfNull(worker);
        var shape = ShapeOf(worker);
        // Own pool before any other, even a higher priority elsewhere: claim_best compares pool_miss first.
        job = BestHead(shape.OwnPool) ?? BestHead(shape.OtherPools);
        return job is not null;
    }

    /// <summary>
    /// Takes the job <paramref name="worker"/> should run next out of the index, moves its tenant's fair share on, and
    /// counts the job as its tenant's held until <see cref="Release"/> (work of no tenant is not counted).
    /// </summary>
    public bool TryClaim(WorkerCapabilities worker, [MaybeNullWhen(false)] out PendingJob job)
    {
        if (!TryPeek(worker, out job)) return false;
        var tenant = _jobs[job.JobId].Class.Tenant;
        _virtualNow = tenant.Start;
        tenant.Start += tenant.Cost;
        if (tenant.Name.Length > 0) Hold(job.JobId, tenant);
        Remove(job.JobId);
        return true;
    }

    /// <summary>
    /// Counts <paramref name="jobId"/> as held by <paramref name="tenant"/>: a job claimed before the index was made,
    /// found running when it is rebuilt.
    /// </summary>
    public void Hold(string jobId, string? tenant)
    {
        ArgumentNullException.ThrowIfNull(jobId);
        if (!string.IsNullOrEmpty(tenant)) Hold(jobId, ShareOf(tenant));
    }

    /// <summary>The held job ended, or went back in line: its tenant's slot is free. False when it was not held.</summary>
    public bool Release(string jobId)
    {
        if (!_held.Remove(jobId, out var tenant)) return false;
        tenant.Held.Remove(jobId);
        ForgetIfIdle(tenant);
        return true;
    }

    /// <summary>
    /// Makes <paramref name="workerId"/> a candidate for <see cref="TryMatch"/>. Call it only once a claim for
    /// the worker has found nothing: then the only job it could be given is a new one, which is exactly what
    /// <c>claim_best</c> would give it, so pushing agrees with claiming. Re-adding an idle worker with the same
    /// capabilities keeps its place in line; with new ones it moves to the back.
    /// </summary>
    public void AddIdleWorker(string workerId, WorkerCapabilities capabilities)
    {
        ArgumentNullException.ThrowIfNull(workerId);
        ArgumentNullException.ThrowIfNull(capabilities);
        var shape = ShapeOf(capabilities);
        if (_idle.TryGetValue(workerId, out var held))
        {
            if (held.Shape == shape) return;
            held.Shape.Idle.Remove(held.Node);
        }
        _idle[workerId] = (shape, shape.Idle.AddLast(new IdleWorker(workerId, _idleSequence++)));
    }

    public bool RemoveIdleWorker(string workerId)
    {
        if (!_idle.Remove(workerId, out var held)) return false;
        held.Shape.Idle.Remove(held.Node);
        return true;
    }

    /// <summary>
    /// The idle worker a new job of <paramref name="requirements"/> should go to, left idle until the caller
    /// has made the assignment durable and calls <see cref="RemoveIdleWorker"/>: claim_best's rule mirrored,
    /// a worker of the job's pool first, then the one idle longest. Costs one check per worker shape.
    /// </summary>
    public bool TryMatch(JobRequirements? requirements, [MaybeNullWhen(false)] out string workerId)
    {
        var key = RequirementClass.From(requirements);
        IdleWorker? best = null;
        var bestOwnPool = false;
        foreach (var shape in _shapes.Values)
        {
            if (shape.Idle.First is not { } first) continue;
            var ownPool = string.Equals(shape.Pool, key.Pool, StringComparison.Ordinal);
            if (best is { } b && (bestOwnPool && !ownPool || bestOwnPool == ownPool && b.Since < first.Value.Since)) continue;
            if (!key.CanServe(shape.Worker)) continue;
            (best, bestOwnPool) = (first.Value, ownPool);
        }
        workerId = best?.Id;
        return workerId is not null;
    }

    private PendingJob? BestHead(List<JobClass> classes)
    {
        ClassesExamined += classes.Count;
        var limit = _limits.RunningJobs;
        JobClass? best = null;
        foreach (var cls in classes)
        {
            // Work of no tenant is not limited.
            if (limit > 0 && cls.Tenant.Held.Count >= limit && cls.Tenant.Name.Length > 0) continue;
            if (best is null || cls.Tenant.Start < best.Tenant.Start
                || cls.Tenant.Start == best.Tenant.Start && QueueOrder.Instance.Compare(cls.Head, best.Head) < 0)
                best = cls;
        }
        return best?.Head.Job;
    }

    private JobClass Open((RequirementClass Requirements, string Tenant) key)
    {
        var tenant = ShareOf(key.Tenant);
        // A tenant with nothing waiting joins at the index's virtual time: what it did not ask for is not owed to it.
        if (tenant.Pending == 0) tenant.Start = Math.Max(tenant.Start, _virtualNow);
        var cls = new JobClass(key.Requirements, tenant);
        _classes.Add(key, cls);
        foreach (var shape in _shapes.Values) shape.Admit(cls);
        return cls;
    }

    private void Leave(PendingJob job, JobClass cls)
    {
        cls.Remove(job);
        cls.Tenant.Pending--;
        if (cls.Jobs.Count == 0)
        {
            _classes.Remove((cls.Key, cls.Tenant.Name));
            foreach (var shape in _shapes.Values) shape.Forget(cls);
        }
        ForgetIfIdle(cls.Tenant);
    }

    private TenantShare ShareOf(string tenant)
    {
        if (_tenants.TryGetValue(tenant, out var share)) return share;
        share = new TenantShare(tenant, (long)Math.Round(VirtualUnit / _limits.WeightOf(tenant.Length > 0 ? tenant : null))) { Start = _virtualNow };
        _tenants.Add(tenant, share);
        return share;
    }

    private void Hold(string jobId, TenantShare tenant)
    {
        if (_held.TryGetValue(jobId, out var before))
        {
            if (before == tenant) return;
            Release(jobId);
        }
        _held.Add(jobId, tenant);
        tenant.Held.Add(jobId);
    }

    /// <summary>A tenant with nothing waiting and nothing held is dropped, so that the tenants kept are those at work.</summary>
    private void ForgetIfIdle(TenantShare tenant)
    {
        if (tenant.Pending == 0 && tenant.Held.Count == 0) _tenants.Remove(tenant.Name);
    }

    private WorkerShape ShapeOf(WorkerCapabilities worker)
    {
        if (_shapes.TryGetValue(worker, out var shape)) return shape;
        if (_shapes.Count >= MaxShapes)
        {
            foreach (var (key, unused) in _shapes)
            {
                if (unused.Idle.Count == 0) _shapes.Remove(key);
            }
        }
        // A copy as the key: the caller's lists could change under the dictionary.
        var copy = worker with { ModelTypes = [.. worker.ModelTypes ?? []], Capabilities = [.. worker.Capabilities ?? []] };
        shape = new WorkerShape(copy);
        foreach (var cls in _classes.Values) shape.Admit(cls);
        _shapes.Add(copy, shape);
        return shape;
    }

    private readonly record struct IdleWorker(string Id, long Since);

    /// <summary>A job's place in its class: the order is copied into the tree node, so a comparison reads no other object.</summary>
    private readonly struct Place(PendingJob job)
    {
        public readonly int Priority = job.Priority;
        public readonly long Sequence = job.Sequence;
        public readonly PendingJob Job = job;
    }

    /// <summary>A tenant's place in the fair sharing: its virtual start time, what a claim costs it, and its jobs.</summary>
    private sealed class TenantShare(string name, long cost)
    {
        public string Name { get; } = name;
        public long Cost { get; } = cost;
        public long Start { get; set; }
        public int Pending { get; set; }
        public HashSet<string> Held { get; } = new(StringComparer.Ordinal);
    }

    /// <summary>The jobs of one tenant with requirements of one class.</summary>
    private sealed class JobClass(RequirementClass key, TenantShare tenant)
    {
        public RequirementClass Key { get; } = key;
        public TenantShare Tenant { get; } = tenant;
        public SortedSet<Place> Jobs { get; } = new(QueueOrder.Instance);

        /// <summary><c>Jobs.Min</c>, kept so that reading it costs no walk down the tree.</summary>
        public Place Head { get; private set; }

        public void Add(PendingJob job)
        {
            var place = new Place(job);
            Jobs.Add(place);
            if (Jobs.Count == 1 || QueueOrder.Instance.Compare(place, Head) < 0) Head = place;
        }

        public void Remove(PendingJob job)
        {
            Jobs.Remove(new Place(job));
            if (ReferenceEquals(job, Head.Job) && Jobs.Count > 0) Head = Jobs.Min;
        }
    }

    /// <summary>Workers with equal capabilities: the classes they can serve, split by pool, and those now idle.</summary>
    private sealed class WorkerShape(WorkerCapabilities worker)
    {
        public WorkerCapabilities Worker { get; } = worker;
        public string Pool { get; } = RequirementClass.PoolOrDefault(worker.PoolType);
        public List<JobClass> OwnPool { get; } = [];
        public List<JobClass> OtherPools { get; } = [];
        public LinkedList<IdleWorker> Idle { get; } = [];

        public void Admit(JobClass cls)
        {
            if (!cls.Key.CanServe(Worker)) return;
            (string.Equals(cls.Key.Pool, Pool, StringComparison.Ordinal) ? OwnPool : OtherPools).Add(cls);
        }

        public void Forget(JobClass cls)
        {
            if (!OwnPool.Remove(cls)) OtherPools.Remove(cls);
        }
    }

    /// <summary>Higher priority first, then lower sequence; the id only makes the order total.</summary>
    private sealed class QueueOrder : IComparer<Place>
    {
        public static readonly QueueOrder Instance = new();

        public int Compare(Place x, Place y)
        {
            var byPriority = y.Priority.CompareTo(x.Priority);
            if (byPriority != 0) return byPriority;
            var bySequence = x.Sequence.CompareTo(y.Sequence);
            return bySequence != 0 ? bySequence : string.CompareOrdinal(x.Job.JobId, y.Job.JobId);
        }
    }

    /// <summary>
    /// Capabilities equal by content, lists compared in order: a worker reports the same lists every time,
    /// and the same lists in another order only cost a second, equally correct, cache entry.
    /// </summary>
    private sealed class ShapeComparer : IEqualityComparer<WorkerCapabilities>
    {
        public static readonly ShapeComparer Instance = new();

        public bool Equals(WorkerCapabilities? x, WorkerCapabilities? y) =>
            ReferenceEquals(x, y) || x is not null && y is not null
            && x.GpuMemory.Equals(y.GpuMemory)
            && string.Equals(RequirementClass.PoolOrDefault(x.PoolType), RequirementClass.PoolOrDefault(y.PoolType), StringComparison.Ordinal)
            && SameItems(x.ModelTypes, y.ModelTypes)
            && SameItems(x.Capabilities, y.Capabilities);

        public int GetHashCode(WorkerCapabilities obj)
        {
            var hash = new HashCode();
            hash.Add(obj.GpuMemory);
            hash.Add(RequirementClass.PoolOrDefault(obj.PoolType));
            AddItems(ref hash, obj.ModelTypes);
            AddItems(ref hash, obj.Capabilities);
            return hash.ToHashCode();
        }

        // Indexed loops: foreach over an IReadOnlyList allocates an enumerator, and this runs on every claim.
        private static bool SameItems(IReadOnlyList<string>? x, IReadOnlyList<string>? y)
        {
            var count = x?.Count ?? 0;
            if (count != (y?.Count ?? 0)) return false;
            for (var i = 0; i < count; i++)
            {
                if (!string.Equals(x![i], y![i], StringComparison.Ordinal)) return false;
            }
            return true;
        }

        private static void AddItems(ref HashCode hash, IReadOnlyList<string>? items)
        {
            var count = items?.Count ?? 0;
            hash.Add(count);
            for (var i = 0; i < count; i++) hash.Add(items![i]);
        }
    }
}
