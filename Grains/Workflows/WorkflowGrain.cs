using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Streams;
using Cluster.Grains.Interfaces.Validation;
using Cluster.Grains.Interfaces.Workflows;
using Cluster.Grains.Jobs;
using static Cluster.Grains.Timestamps;

namespace Cluster.Grains.Workflows;

/// <summary>
/// One workflow: a DAG of steps, each a job, with the rules the workflow tests pin (creation, promotion exactly once,
/// failure policies, step retry, cancel). A decision and its events are one outbox write of this grain; what it implies for the steps' jobs
/// (promote, cancel, restore) is done after the write and repeated after a crash, and each job does it only once.
/// The steps' jobs tell the workflow when they end (<see cref="StepEndedAsync"/>); their answers to its requests
/// also say what they are, which corrects what it knows when a job moved first.
/// </summary>
public sealed class WorkflowGrain(
    [PersistentState("workflow", JobGrain.Storage)] IPersistentState<WorkflowRecord> state) : Grain, IWorkflowGrain, IWorkflowControlGrain
{
    public const string Topic = "workflows";
    /// <summary>Written, its jobs not all created yet: invisible to readers.</summary>
    public const string Creating = "creating";
    /// <summary>The listing index, newest first by sequence.</summary>
    public const string ListingKey = "workflows";

    private WorkflowRecord Workflow => state.State;
    private List<StepRecord> Steps => state.State.Steps;
    private string Id => this.GetPrimaryKeyString();

    // ---- creation ---------------------------------------------------------------------------------------

    public async Task<CreatedWorkflow> CreateAsync(WorkflowDefinition definition)
    {
        ArgumentNullException.ThrowIfNull(definition);
        if (Workflow.Status.Length == 0)
        {
            Check(definition);
            Workflow.Status = Creating;
            Workflow.Name = definition.Name;
            Workflow.Description = definition.Description;
            Workflow.FailurePolicy = definition.FailurePolicy;
            Workflow.WebhookUrl = definition.WebhookUrl;
            Workflow.Tenant = definition.Tenant;
            if (definition.WebhookUrl is { Length: > 0 } url) WebhookTargets.Register(Workflow.Outbox, "workflow", Id, url, null);
            Workflow.StepsJson = definition.StepsJson.ToJsonString(ClusterJson.Options);
            Workflow.CreatedMs = NowMs;
            Workflow.Sequence = JobSequence.Next();
            Workflow.Submissions = definition.Steps.Select(s => s.Job).ToList();
            Workflow.Steps = definition.Steps.Select((s, i) => new StepRecord
            {
                JobId = Guid.CreateVersion7().ToString(),
                Type = s.Job.Type,
                DependsOn = [.. s.DependsOn],
                Dependents = [.. definition.Steps.Index().Where(d => d.Item.DependsOn.Contains(i)).Select(d => d.Index)],
                Status = s.DependsOn.Count > 0 ? JobStatus.Waiting : JobStatus.Pending,
                Sequence = JobSequence.Next(),
            }).ToList();
            await WriteAsync();
        }
        await FinishCreatingAsync();
        return new CreatedWorkflow(Id, Steps.Select(s => s.JobId).ToArray());
    }

    /// <summary>Creates the jobs of a workflow written as <see cref="Creating"/> (again, after a crash: a job that exists is kept), then runs it.</summary>
    private async Task FinishCreatingAsync()
    {
        if (Workflow.Status != Creating) return;
        var submissions = Workflow.Submissions ?? throw new InvalidOperationException($"workflow {Id} is creating without its steps");
        // Created at once, each in its place in line (taken in step order).
        await Task.WhenAll(Steps.Select((step, i) => GrainFactory.GetGrain<IJobControlGrain>(step.JobId).CreateAsync(submissions[i],
            new JobPlacement { WorkflowId = Id, StepIndex = i, Waiting = step.DependsOn.Length > 0, Sequence = step.Sequence })));
        Workflow.Status = WorkflowStatus.Running;
        Workflow.Submissions = null;
        Workflow.Outbox.SortedSetAdd(ListingKey, Id, Workflow.Sequence);
        Publish("workflow_created");
        await WriteAsync();
    }

    /// <summary>The reader's checks again, for definitions that did not come through it.</summary>
    private static void Check(WorkflowDefinition definition)
    {
        var count = definition.Steps.Count;
        if (count == 0) throw Invalid("a workflow needs at least one step");
        if (!WorkflowFailurePolicy.All.Contains(definition.FailurePolicy)) throw Invalid("failure_policy must be fail_fast or continue");
        for (var i = 0; i < count; i++)
        {
            var step = definition.Steps[i];
            foreach (var d in step.DependsOn)
                if (d < 0 || d >= count || d == i)
                    throw Invalid($"step {i} depends on {d}, which is not another step of the workflow");
            if (step.Job.Priority is < JobLimits.MinPriority or > JobLimits.MaxPriority)
                throw Invalid($"priority must be a whole number from {JobLimits.MinPriority} to {JobLimits.MaxPriority}");
        }
        if (WorkflowDefinitionReader.FindCycle(definition.Steps) is { } cyclic) throw Invalid($"step {cyclic} is part of a dependency cycle");
    }

    // ---- reading ----------------------------------------------------------------------------------------

    public Task<WorkflowState?> StateAsync() => Task.FromResult(Workflow.Exists ? View() : null);

    public async Task<WorkflowView?> GetAsync(CancellationToken cancellationToken = default)
    {
        if (!Workflow.Exists) return null;
        var jobs = await Task.WhenAll(Steps.Select(s => GrainFactory.GetGrain<IJobControlGrain>(s.JobId).PeekAsync()));
        var steps = Steps.Select((s, i) => new WorkflowStep
        {
            JobId = s.JobId, StepIndex = i, Type = s.Type.Length == 0 ? null : s.Type, Status = jobs[i]?.Status ?? s.Status,
            Progress = jobs[i]?.Progress ?? 0, Result = jobs[i]?.Result, Error = jobs[i]?.Error, DependsOn = s.DependsOn,
        }).ToArray();
        return new WorkflowView(View(), steps);
    }

    private WorkflowState View() => new()
    {
        Id = Id, Name = Workflow.Name, Description = Workflow.Description, Status = Workflow.Status,
        TotalSteps = Steps.Count, CompletedSteps = Workflow.CompletedSteps, FailedSteps = Workflow.FailedSteps,
        FailurePolicy = Workflow.FailurePolicy, WebhookUrl = Workflow.WebhookUrl, Tenant = Workflow.Tenant,
        CreatedAt = Iso(Workflow.CreatedMs), CompletedAt = Iso(Workflow.CompletedMs),
    };

    // ---- what the steps' jobs tell it -----------------------------------------------------------------------

    public async Task StepEndedAsync(StepNotice notice)
    {
        ArgumentNullException.ThrowIfNull(notice);
        await FinishCreatingAsync();
        if (!Workflow.Exists || !Hear(notice)) return;
        await CommitAsync();
    }

    public async Task<bool> JobCompletedAsync(string jobId, JsonNode? result, CancellationToken cancellationToken = default)
    {
        await FinishCreatingAsync();
        if (!Workflow.Exists) throw NotFound();
        var index = Steps.FindIndex(s => s.JobId == jobId);
        if (index < 0)
        {
            if (await GrainFactory.GetGrain<IJobControlGrain>(jobId).PeekAsync() is null)
                throw new ClusterException(ErrorCodes.JobNotFound, "Job not found: " + jobId);
            throw Invalid($"job {jobId} is not a step of workflow {Id}");
        }
        var facts = await GrainFactory.GetGrain<IJobControlGrain>(jobId).CompleteForWorkflowAsync(result?.ToJsonString(ClusterJson.Options) ?? "null")
            ?? throw new ClusterException(ErrorCodes.JobNotFound, "Job not found: " + jobId);
        if (facts.Status != JobStatus.Completed)
            throw new ClusterException(ErrorCodes.InvalidState, $"job {jobId} is {facts.Status}, not completed");
        if (Steps[index].Status == JobStatus.Completed) return false;
        Completed(index, facts.Result);
        await CommitAsync();
        return true;
    }

    /// <summary>
    /// Takes in what a step's job says it is, when that is news: the job of the step's current generation ended in
    /// a way the workflow has not heard. True when something changed.
    /// </summary>
    private bool Hear(StepNotice notice)
    {
        if (notice.StepIndex < 0 || notice.StepIndex >= Steps.Count) return false;
        var step = Steps[notice.StepIndex];
        if (step.JobId != notice.JobId || step.Generation != notice.Generation || step.Status == notice.Status) return false;
        switch (notice.Status)
        {
            case JobStatus.Completed:
                Completed(notice.StepIndex, notice.Result);
                return true;
            case JobStatus.Dead:
                Ended(notice.StepIndex, JobStatus.Dead, notice.Detail ?? "");
                return true;
            case JobStatus.Cancelled when notice.ByWorkflow:
                step.Status = JobStatus.Cancelled;
                step.Action = StepAction.None;
                Settle();
                return true;
            case JobStatus.Cancelled:
                Ended(notice.StepIndex, JobStatus.Cancelled, notice.Detail ?? "");
                return true;
            default:
                return false;
        }
    }

    /// <summary>workflow_on_step_completed: counts the step and promotes each waiting dependent whose dependencies have all completed.</summary>
    private void Completed(int index, string? result)
    {
        var step = Steps[index];
        step.Status = JobStatus.Completed;
        step.Action = StepAction.None;
        step.Result = step.Dependents.Length > 0 ? ValidJson(result) : null;
        Recount();
        Publish("workflow_step_completed", ("step_index", Text(index)), ("job_id", step.JobId));
        foreach (var d in step.Dependents)
            if (Steps[d].Status == JobStatus.Waiting && DependenciesCompleted(d))
                MakePending(d, StepAction.Promote, "dependencies_completed", "workflow_step_promoted");
        Settle();
    }

    /// <summary>
    /// workflow_on_step_ended: a step died or was cancelled. fail_fast cancels every unfinished step; continue only
    /// the steps that depend on this one, directly or not.
    /// </summary>
    private void Ended(int index, string outcome, string detail)
    {
        var step = Steps[index];
        step.Status = outcome;
        step.Action = StepAction.None;
        step.CancelledByPolicy = false;
        Recount();
        var dead = outcome == JobStatus.Dead;
        Publish(dead ? "workflow_step_failed" : "workflow_step_cancelled",
            ("step_index", Text(index)), ("job_id", step.JobId), (dead ? "error" : "reason", detail));
        if (Workflow.Status == WorkflowStatus.Running)
        {
            if (Workflow.FailurePolicy == WorkflowFailurePolicy.Continue)
            {
                foreach (var d in Descendants(index).Order)
                    if (Steps[d].IsUnfinished) Cancel(d, "dependency failed", byPolicy: true);
            }
            else
            {
                for (var i = 0; i < Steps.Count; i++)
                    if (Steps[i].IsUnfinished) Cancel(i, $"workflow failed: step {index} ended {outcome}", byPolicy: true);
            }
        }
        Settle();
    }

    // ---- what people do -----------------------------------------------------------------------------------

    public async Task CancelAsync(string? reason = null, CancellationToken cancellationToken = default)
    {
        await FinishCreatingAsync();
        if (!Workflow.Exists) throw NotFound();
        if (Workflow.Status != WorkflowStatus.Running)
            throw new ClusterException(ErrorCodes.InvalidState, $"workflow {Id} is already {Workflow.Status}");
        reason = string.IsNullOrEmpty(reason) ? "workflow cancelled" : reason;
        for (var i = 0; i < Steps.Count; i++)
            if (Steps[i].IsUnfinished) Cancel(i, reason, byPolicy: false);
        Settle(WorkflowStatus.Cancelled);
        await CommitAsync();
    }

    /// <summary>
    /// retry_step: a dead or cancelled step starts afresh, and so do the steps cancelled because of it (its
    /// dependents, and under fail_fast every step the policy cancelled); the workflow runs again.
    /// </summary>
    public async Task RetryStepAsync(int stepIndex, CancellationToken cancellationToken = default)
    {
        await FinishCreatingAsync();
        if (!Workflow.Exists) throw NotFound();
        if (stepIndex < 0 || stepIndex >= Steps.Count) throw Invalid($"workflow {Id} has no step {stepIndex}");
        var step = Steps[stepIndex];
        if (step.Status is not (JobStatus.Dead or JobStatus.Cancelled))
        {
            var status = (await GrainFactory.GetGrain<IJobControlGrain>(step.JobId).PeekAsync())?.Status ?? step.Status;
            throw new ClusterException(ErrorCodes.InvalidState,
                $"step {stepIndex} of workflow {Id} is {status}; only dead or cancelled steps can be retried");
        }
        foreach (var d in step.DependsOn)
            if (Steps[d].Status is JobStatus.Dead or JobStatus.Cancelled)
                throw new ClusterException(ErrorCodes.InvalidState,
                    $"step {stepIndex} of workflow {Id} depends on step {d}, which is {Steps[d].Status}; retry that step first");

        Restore(stepIndex, "manual_retry", "workflow_step_retried");
        var (order, seen) = Descendants(stepIndex);
        foreach (var d in order)
            if (Steps[d].Status == JobStatus.Cancelled) Restore(d, "dependency_retried", null);
        if (Workflow.FailurePolicy != WorkflowFailurePolicy.Continue)
            for (var i = 0; i < Steps.Count; i++)
                if (!seen.Contains(i) && Steps[i].Status == JobStatus.Cancelled && Steps[i].CancelledByPolicy)
                    Restore(i, "workflow_retried", null);
        if (Workflow.Status != WorkflowStatus.Running)
        {
            Workflow.Status = WorkflowStatus.Running;
            Workflow.CompletedMs = 0;
            Recount();
            Publish("workflow_resumed", ("step_index", Text(stepIndex)), ("job_id", step.JobId));
        }
        else Settle();
        await CommitAsync();
    }

    // ---- decisions --------------------------------------------------------------------------------------

    /// <summary>make_pending: the step becomes claimable once this is written; <paramref name="kind"/> is the workflow event to append, if any.</summary>
    private void MakePending(int index, StepAction action, string reason, string? kind)
    {
        var step = Steps[index];
        step.Status = JobStatus.Pending;
        step.Action = action;
        step.ActionReason = reason;
        if (kind is not null) Publish(kind, ("step_index", Text(index)), ("job_id", step.JobId));
    }

    private void Cancel(int index, string reason, bool byPolicy)
    {
        var step = Steps[index];
        step.Status = JobStatus.Cancelled;
        step.CancelledByPolicy = byPolicy;
        step.Action = StepAction.Cancel;
        step.ActionReason = reason;
    }

    /// <summary>restore_step: a new generation of the step, pending if its dependencies have all completed, else waiting.</summary>
    private void Restore(int index, string reason, string? kind)
    {
        var step = Steps[index];
        step.Generation++;
        step.CancelledByPolicy = false;
        step.Result = null;
        if (DependenciesCompleted(index))
        {
            MakePending(index, StepAction.Restore, reason, kind);
            return;
        }
        step.Status = JobStatus.Waiting;
        step.Action = StepAction.Restore;
        step.ActionReason = reason;
        if (kind is not null) Publish(kind, ("step_index", Text(index)), ("job_id", step.JobId));
    }

    /// <summary>
    /// workflow_settle: once nothing is left to run, the workflow ends completed when every step completed, failed
    /// when a step died, cancelled otherwise (or <paramref name="outcome"/>).
    /// </summary>
    private void Settle(string? outcome = null)
    {
        var unfinished = Recount();
        if (unfinished > 0 || (Steps.Count == 0 && outcome is null)) return;
        var final = outcome ?? (Workflow.CompletedSteps == Steps.Count ? WorkflowStatus.Completed
            : Workflow.FailedSteps > 0 ? WorkflowStatus.Failed : WorkflowStatus.Cancelled);
        if (Workflow.Status == final) return;
        Workflow.Status = final;
        Workflow.CompletedMs = NowMs;
        Publish("workflow_" + final);
    }

    /// <summary>workflow_recount: stores the completed and dead steps' counts; returns how many are unfinished.</summary>
    private int Recount()
    {
        int completed = 0, dead = 0, unfinished = 0;
        foreach (var step in Steps)
        {
            if (step.Status == JobStatus.Completed) completed++;
            else if (step.Status == JobStatus.Dead) dead++;
            else if (step.IsUnfinished) unfinished++;
        }
        Workflow.CompletedSteps = completed;
        Workflow.FailedSteps = dead;
        return unfinished;
    }

    private bool DependenciesCompleted(int index) => Steps[index].DependsOn.All(d => Steps[d].Status == JobStatus.Completed);

    /// <summary>Every step that depends on <paramref name="index"/>, directly or not, in the order of a depth-first walk; and those indexes with it.</summary>
    private (List<int> Order, HashSet<int> Seen) Descendants(int index)
    {
        var order = new List<int>();
        var seen = new HashSet<int> { index };
        var stack = new Stack<int>(Steps[index].Dependents);
        while (stack.TryPop(out var d))
        {
            if (!seen.Add(d)) continue;
            order.Add(d);
            foreach (var next in Steps[d].Dependents) stack.Push(next);
        }
        return (order, seen);
    }

    /// <summary>inputs_of: <c>{"&lt;step index&gt;": result, …}</c> as JSON text, from the stored result texts.</summary>
    private string InputsOf(int index)
    {
        var inputs = new StringBuilder("{");
        foreach (var d in Steps[index].DependsOn)
        {
            if (inputs.Length > 1) inputs.Append(',');
            inputs.Append('"').Append(Text(d)).Append("\":").Append(Steps[d].Result ?? "null");
        }
        return inputs.Append('}').ToString();
    }

    // ---- writing and acting ---------------------------------------------------------------------------------

    /// <summary>
    /// Writes the decisions with their events, then carries them out on the steps' jobs. A job that answers with
    /// news (it ended before the request reached it) is heard, and that is written and carried out in turn.
    /// </summary>
    private async Task CommitAsync()
    {
        while (true)
        {
            await WriteAsync();
            var acting = Steps.Index().Where(s => s.Item.Action != StepAction.None).ToArray();
            if (acting.Length == 0) return;
            var answers = await Task.WhenAll(acting.Select(s => ActAsync(s.Index, s.Item)));
            foreach (var (_, step) in acting) step.Action = StepAction.None;
            var news = false;
            foreach (var answer in answers)
                if (answer is not null) news |= Hear(answer);
            if (!news) return;
        }
    }

    private Task<StepNotice?> ActAsync(int index, StepRecord step)
    {
        var job = GrainFactory.GetGrain<IJobControlGrain>(step.JobId);
        return step.Action switch
        {
            StepAction.Promote => job.PromoteAsync(step.Generation, InputsOf(index), step.ActionReason),
            StepAction.Cancel => job.CancelByWorkflowAsync(step.ActionReason),
            StepAction.Restore => job.RestoreAsync(step.Generation, step.Status == JobStatus.Pending,
                step.Status == JobStatus.Pending && step.DependsOn.Length > 0 ? InputsOf(index) : null, step.ActionReason),
            _ => Task.FromResult<StepNotice?>(null),
        };
    }

    /// <summary>A write that fails leaves this activation's state ahead of the stored one: the next activation reads it again.</summary>
    private async Task WriteAsync()
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch
        {
            DeactivateOnIdle();
            throw;
        }
    }

    /// <summary>A workflow event to the <c>workflows</c> topic, with the fields every one carries.</summary>
    private void Publish(string type, params ReadOnlySpan<(string Name, string Value)> extra)
    {
        var fields = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["workflow_id"] = Id,
            ["status"] = Workflow.Status,
            ["completed_steps"] = Text(Workflow.CompletedSteps),
            ["failed_steps"] = Text(Workflow.FailedSteps),
            ["total_steps"] = Text(Steps.Count),
        };
        if (Workflow.Name.Length > 0) fields["name"] = Workflow.Name;
        if (Workflow.WebhookUrl is { Length: > 0 } webhook) fields["webhook_url"] = webhook;
        foreach (var (name, value) in extra)
            if (value.Length > 0) fields[name] = value;
        var @event = new TopicEvent(type, fields);
        Workflow.Outbox.Publish(Topic, Id, @event);
        WebhookTargets.PublishIfWanted(Workflow.Outbox, Id, Workflow.WebhookUrl, null, @event);
    }

    private ClusterException NotFound() => new(ErrorCodes.WorkflowNotFound, "Workflow not found: " + Id);

    private static ClusterException Invalid(string message) => new(ErrorCodes.ValidationError, message);

    private static string Text(int n) => n.ToString(CultureInfo.InvariantCulture);

    /// <summary>A result as JSON text; plain text (seed-era code may store it) becomes a JSON string.</summary>
    private static string ValidJson(string? result)
    {
        if (string.IsNullOrEmpty(result)) return "null";
        try
        {
            using var _ = JsonDocument.Parse(result);
            return result;
        }
        catch (JsonException)
        {
            return JsonSerializer.Serialize(result);
        }
    }

}
