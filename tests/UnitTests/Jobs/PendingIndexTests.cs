using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workers;
using Cluster.Grains.Jobs;

namespace Cluster.UnitTests.Jobs;

public sealed class PendingIndexTests
{
    private static readonly WorkerCapabilities Sdxl = new() { GpuMemory = 24, ModelTypes = ["sdxl"], Capabilities = ["text-to-image", "upscale"] };

    private long _sequence;

    private PendingJob Job(string id, int priority = 50, JobRequirements? requirements = null) => new(id, priority, ++_sequence, requirements);

    private static List<string> ClaimAll(PendingIndex index, WorkerCapabilities worker)
    {
        var claimed = new List<string>();
        while (index.TryClaim(worker, out var job)) claimed.Add(job.JobId);
        return claimed;
    }

    [Test]
    public void A_worker_is_given_only_jobs_it_has_the_gpu_memory_model_and_every_capability_for()
    {
        var index = new PendingIndex();
        index.Add(Job("too-much-gpu", 900, new() { GpuMemory = 48 }));
        index.Add(Job("other-model", 900, new() { ModelType = "flux" }));
        index.Add(Job("missing-capability", 900, new() { Capabilities = ["text-to-image", "video"] }));
        index.Add(Job("exact-gpu", 10, new() { GpuMemory = 24, ModelType = "sdxl" }));
        index.Add(Job("capabilities", 10, new() { Capabilities = ["upscale", "text-to-image"] }));
        index.Add(Job("nothing-asked", 10));

        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "exact-gpu", "capabilities", "nothing-asked" }));
        Assert.That(index.Count, Is.EqualTo(3), "the jobs it cannot serve stay");
        Assert.That(ClaimAll(index, new() { GpuMemory = 80, ModelTypes = ["flux", "sdxl"], Capabilities = ["text-to-image", "video"] }),
            Is.EqualTo(new[] { "too-much-gpu", "other-model", "missing-capability" }));
    }

    [Test]
    public void Requirements_that_differ_only_in_capability_order_or_a_spelled_out_default_are_one_class()
    {
        var index = new PendingIndex();
        index.Add(Job("a", requirements: new() { Capabilities = ["upscale", "text-to-image"] }));
        index.Add(Job("b", requirements: new() { Capabilities = ["text-to-image", "upscale"], PoolPreference = "standard", GpuMemory = 0, ModelType = "" }));
        index.Add(Job("c", requirements: new() { Capabilities = ["text-to-image", "upscale"], PoolPreference = "" }));

        Assert.That(index.ClassCount, Is.EqualTo(1));
        Assert.That(index.CountOf(new() { Capabilities = ["upscale", "text-to-image"] }), Is.EqualTo(3));
        Assert.That(index.Classes.Single().Class.ToString(), Is.EqualTo("g=0;m=;c=text-to-image,upscale;p=standard"), "the class id");
    }

    [Test]
    public void A_worker_takes_its_own_pools_jobs_before_a_higher_priority_in_another_pool()
    {
        // claim_best compares pool_miss before the score, so pool beats priority.
        var index = new PendingIndex();
        index.Add(Job("standard-urgent", 1000));
        index.Add(Job("fast-lane-low", 0, new() { PoolPreference = "fast-lane" }));
        index.Add(Job("heavy-urgent", 1000, new() { PoolPreference = "heavy" }));
        index.Add(Job("fast-lane-later", 0, new() { PoolPreference = "fast-lane" }));

        var fastLane = Sdxl with { PoolType = "fast-lane" };

        Assert.That(ClaimAll(index, fastLane), Is.EqualTo(new[] { "fast-lane-low", "fast-lane-later", "standard-urgent", "heavy-urgent" }),
            "own pool first; among other pools, priority then age, whichever pool");
    }

    [Test]
    public void A_worker_without_a_pool_is_of_the_standard_pool()
    {
        var index = new PendingIndex();
        index.Add(Job("heavy", 900, new() { PoolPreference = "heavy" }));
        index.Add(Job("standard", 10));

        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "standard", "heavy" }));
        Assert.That(ClaimAll(index, Sdxl with { PoolType = "" }), Is.Empty);
    }

    [Test]
    public void Within_a_pool_higher_priority_goes_first_and_equal_priorities_go_in_order_of_arrival()
    {
        var index = new PendingIndex();
        index.Add(Job("low-1", 10));
        index.Add(Job("high-1", 90, new() { ModelType = "sdxl" }));
        index.Add(Job("low-2", 10, new() { Capabilities = ["upscale"] }));
        index.Add(Job("high-2", 90));
        index.Add(Job("mid", 50, new() { GpuMemory = 8 }));
        index.Add(Job("low-3", 10));

        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "high-1", "high-2", "mid", "low-1", "low-2", "low-3" }));
        Assert.That(index.Count, Is.Zero);
    }

    [Test]
    public void A_peek_names_the_job_a_claim_would_take_and_leaves_it()
    {
        var index = new PendingIndex();
        index.Add(Job("first", 60));
        index.Add(Job("second", 50));

        Assert.That(index.TryPeek(Sdxl, out var peeked), Is.True);
        Assert.That(peeked!.JobId, Is.EqualTo("first"));
        Assert.That(index.Contains("first"), Is.True);
        Assert.That(index.Remove("first"), Is.True);
        Assert.That(index.TryPeek(Sdxl, out peeked), Is.True);
        Assert.That(peeked!.JobId, Is.EqualTo("second"));
    }

    [Test]
    public void A_removed_job_is_never_claimed_and_removing_it_again_says_so()
    {
        var index = new PendingIndex();
        index.Add(Job("a", 90));
        index.Add(Job("b", 50));
        index.Add(Job("c", 10));

        Assert.That(index.Remove("a"), Is.True);
        Assert.That(index.Remove("a"), Is.False);
        Assert.That(index.Remove("never-added"), Is.False);
        Assert.That(index.Contains("a"), Is.False);
        Assert.That(index.Count, Is.EqualTo(2));
        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "b", "c" }));
    }

    [Test]
    public void Adding_a_job_again_with_the_same_data_changes_nothing_and_with_a_new_priority_or_sequence_moves_it()
    {
        var index = new PendingIndex();
        var first = Job("first", 50);
        index.Add(first);
        index.Add(Job("second", 50));
        index.Add(Job("third", 50));

        Assert.That(index.Add(first with { }), Is.False);
        Assert.That(index.Add(first with { Requirements = new() { PoolPreference = "standard" } }), Is.False, "the same class");
        Assert.That(index.Count, Is.EqualTo(3));

        Assert.That(index.Add(Job("third", 50) with { Sequence = 0 }), Is.True);
        Assert.That(index.Add(Job("second", 70)), Is.True);
        Assert.That(index.Count, Is.EqualTo(3));
        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "second", "third", "first" }));
    }

    [Test]
    public void Adding_a_job_again_with_new_requirements_moves_it_to_their_class()
    {
        var index = new PendingIndex();
        index.Add(Job("job", requirements: new() { ModelType = "flux" }));
        Assert.That(index.TryPeek(Sdxl, out _), Is.False);

        index.Add(Job("job", requirements: new() { ModelType = "sdxl" }));

        Assert.That(index.ClassCount, Is.EqualTo(1), "the flux class emptied and went");
        Assert.That(index.TryClaim(Sdxl, out var claimed), Is.True);
        Assert.That(claimed!.JobId, Is.EqualTo("job"));
    }

    [Test]
    public void A_class_disappears_when_its_last_job_is_claimed_or_removed()
    {
        var index = new PendingIndex();
        index.Add(Job("gpu", requirements: new() { GpuMemory = 8 }));
        index.Add(Job("flux", requirements: new() { ModelType = "flux" }));
        index.Add(Job("plain-1"));
        index.Add(Job("plain-2"));
        Assert.That(index.ClassCount, Is.EqualTo(3));

        index.TryClaim(new() { GpuMemory = 8 }, out _);
        index.Remove("flux");
        index.Remove("plain-1");

        Assert.That(index.Classes.Select(c => (c.Class.ToString(), c.Count)), Is.EqualTo(new[] { ("g=0;m=;c=;p=standard", 1) }));
        Assert.That(index.CountOf(new() { ModelType = "flux" }), Is.Zero);
        index.Remove("plain-2");
        Assert.That(index.ClassCount, Is.Zero);
    }

    [Test]
    public void What_a_worker_can_serve_stays_right_as_classes_come_and_go()
    {
        var index = new PendingIndex();
        Assert.That(index.TryClaim(Sdxl, out _), Is.False, "the worker's shape is now known, with nothing to serve");

        index.Add(Job("sdxl-1", requirements: new() { ModelType = "sdxl" }));
        index.Add(Job("flux-1", requirements: new() { ModelType = "flux" }));
        Assert.That(ClaimAll(index, Sdxl), Is.EqualTo(new[] { "sdxl-1" }));

        index.Add(Job("sdxl-2", requirements: new() { ModelType = "sdxl" }));
        index.Add(Job("fast-1", requirements: new() { PoolPreference = "fast-lane" }));
        var sameShapeOtherLists = new WorkerCapabilities { GpuMemory = 24, ModelTypes = ["sdxl"], Capabilities = ["text-to-image", "upscale"] };
        Assert.That(ClaimAll(index, sameShapeOtherLists), Is.EqualTo(new[] { "sdxl-2", "fast-1" }));
        Assert.That(index.ClassCount, Is.EqualTo(1));
    }

    [Test]
    public void A_worker_whose_lists_change_after_a_claim_is_served_by_its_new_capabilities()
    {
        var index = new PendingIndex();
        index.Add(Job("flux", requirements: new() { ModelType = "flux" }));
        var models = new List<string> { "sdxl" };
        var worker = new WorkerCapabilities { GpuMemory = 24, ModelTypes = models };
        Assert.That(index.TryClaim(worker, out _), Is.False);

        models.Add("flux");

        Assert.That(index.TryClaim(worker, out var claimed), Is.True);
        Assert.That(claimed!.JobId, Is.EqualTo("flux"));
    }

    [Test]
    public void A_claim_reads_one_head_per_class_the_worker_can_serve_however_long_the_backlog()
    {
        // 20 requirement shapes as the claims benchmark has them, 1 % of the backlog servable by the worker.
        var worker = new WorkerCapabilities { GpuMemory = 24, ModelTypes = ["model-0", "model-1"], Capabilities = ["text-to-image"] };
        var shapes = Enumerable.Range(0, 20)
            .Select(s => new JobRequirements { ModelType = "model-" + s, Capabilities = ["text-to-image"], PoolPreference = s % 2 == 0 ? "standard" : "heavy" })
            .ToArray();

        long ExaminedPerClaim(int backlog)
        {
            var index = new PendingIndex();
            for (var i = 0; i < backlog; i++) index.Add(new PendingJob("job-" + i, i % 7 * 10, i, shapes[i % 100 == 0 ? i / 100 % 2 : 2 + i % 18]));
            Assert.That(index.ClassCount, Is.EqualTo(20));
            var before = index.ClassesExamined;
            for (var i = 0; i < 100; i++)
            {
                index.Add(new PendingJob("extra-" + i, 0, backlog + i, shapes[i % 2]));
                Assert.That(index.TryClaim(worker, out _), Is.True);
            }
            Assert.That(index.Count, Is.EqualTo(backlog));
            return index.ClassesExamined - before;
        }

        var small = ExaminedPerClaim(1_000);
        var large = ExaminedPerClaim(1_000_000);

        Assert.That(small, Is.EqualTo(100), "it serves two of the 20 classes, and reads only the one of its own pool while that has jobs");
        Assert.That(large, Is.EqualTo(small));
    }

    [Test]
    public void A_claim_allocates_nothing_once_warm()
    {
        var index = new PendingIndex();
        for (var i = 0; i < 1_000; i++) index.Add(Job("job-" + i, i % 5, new() { ModelType = "model-" + i % 20 }));
        var worker = new WorkerCapabilities { GpuMemory = 24, ModelTypes = ["model-3", "model-7"], Capabilities = ["text-to-image"] };
        var sameShape = new WorkerCapabilities { GpuMemory = 24, ModelTypes = ["model-3", "model-7"], Capabilities = ["text-to-image"] };
        // Warm: the runtime allocates once for the first emptied class (a lazy collection view, a comparer).
        index.Add(Job("once", 1000, new() { ModelType = "model-3", GpuMemory = 1 }));
        for (var i = 0; i < 10; i++) index.TryClaim(worker, out _);

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 60; i++) index.TryClaim(i % 2 == 0 ? worker : sameShape, out _);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.That(allocated, Is.Zero, "60 claims, one of which empties a class");
        Assert.That(index.Count, Is.EqualTo(1_000 - 69));
        Assert.That(index.CountOf(new() { ModelType = "model-3" }), Is.Zero);
    }

    [Test]
    public void A_new_job_is_matched_to_an_idle_worker_of_its_pool_first_then_to_the_one_idle_longest()
    {
        var index = new PendingIndex();
        index.AddIdleWorker("standard-early", Sdxl);
        index.AddIdleWorker("fast-lane", Sdxl with { PoolType = "fast-lane" });
        index.AddIdleWorker("heavy-gpu", new() { GpuMemory = 80, ModelTypes = ["sdxl"], PoolType = "heavy" });
        index.AddIdleWorker("standard-late", Sdxl with { });

        Assert.That(index.TryMatch(new() { PoolPreference = "fast-lane" }, out var worker), Is.True);
        Assert.That(worker, Is.EqualTo("fast-lane"));
        Assert.That(index.TryMatch(null, out worker), Is.True);
        Assert.That(worker, Is.EqualTo("standard-early"));
        Assert.That(index.TryMatch(new() { GpuMemory = 48 }, out worker), Is.True, "only one has the memory, in another pool");
        Assert.That(worker, Is.EqualTo("heavy-gpu"));
        Assert.That(index.TryMatch(new() { ModelType = "flux" }, out _), Is.False);

        Assert.That(index.RemoveIdleWorker("standard-early"), Is.True);
        Assert.That(index.TryMatch(null, out worker), Is.True);
        Assert.That(worker, Is.EqualTo("standard-late"));
        Assert.That(index.IdleWorkerCount, Is.EqualTo(3));
    }

    [Test]
    public void An_idle_worker_added_again_keeps_its_place_unless_its_capabilities_changed()
    {
        var index = new PendingIndex();
        index.AddIdleWorker("a", Sdxl);
        index.AddIdleWorker("b", Sdxl);
        index.AddIdleWorker("a", Sdxl with { });
        Assert.That(index.TryMatch(null, out var worker) ? worker : null, Is.EqualTo("a"));

        index.AddIdleWorker("a", Sdxl with { GpuMemory = 48 });

        Assert.That(index.IdleWorkerCount, Is.EqualTo(2));
        Assert.That(index.TryMatch(null, out worker) ? worker : null, Is.EqualTo("b"));
        Assert.That(index.TryMatch(new() { GpuMemory = 48 }, out worker) ? worker : null, Is.EqualTo("a"));
        Assert.That(index.RemoveIdleWorker("a"), Is.True);
        Assert.That(index.RemoveIdleWorker("a"), Is.False);
    }
}
