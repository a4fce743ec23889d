using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;

namespace Cluster.Grains.Interfaces.Validation;

/// <summary>
/// Reads a workflow creation body: <c>{name, description?, steps: [{type, …payload, depends_on: i | [i, …]}],
/// failure_policy?, webhook_url?}</c>. Each step is checked exactly as a job submission is, except that a step
/// with dependencies may leave out its payload's required fields: its dependencies' results bring them as
/// <c>inputs</c> (seed 001's <c>{"type":"img2img","prompt":…,"depends_on":[0]}</c>). The dependencies must name
/// other steps and form no cycle.
/// </summary>
public static class WorkflowDefinitionReader
{
    /// <summary>Returns the definition, or null with <paramref name="problem"/> naming what is wrong (and which step).</summary>
    public static WorkflowDefinition? Read(JsonNode? body, JobTypeCatalog catalog, int maxSteps, out string? problem)
    {
        problem = null;
        if (body is not JsonObject obj) return Fail("the body must be a JSON object", out problem);
        if (!TryText(obj, "name", WorkflowLimits.MaxNameLength, out var name) || string.IsNullOrEmpty(name))
            return Fail($"'name' must be a non-empty string of at most {WorkflowLimits.MaxNameLength} characters", out problem);
        if (!TryText(obj, "description", WorkflowLimits.MaxDescriptionLength, out var description))
            return Fail($"'description' must be a string of at most {WorkflowLimits.MaxDescriptionLength} characters", out problem);
        if (!TryText(obj, "failure_policy", 32, out var policy) || policy is not null && !WorkflowFailurePolicy.All.Contains(policy))
            return Fail($"'failure_policy' must be one of {string.Join(", ", WorkflowFailurePolicy.All)}", out problem);
        if (!TryText(obj, "webhook_url", JobSubmissionReader.MaxUrlLength, out var webhook) || webhook is not null && !JobSubmissionReader.IsWebhookUrl(webhook))
            return Fail(JobSubmissionReader.WebhookUrlProblem, out problem);
        if (obj["steps"] is not JsonArray list || list.Count < 1 || list.Count > maxSteps)
            return Fail($"'steps' must be an array of 1 to {maxSteps} steps", out problem);

        var steps = new List<WorkflowStepDefinition>(list.Count);
        var stored = new JsonArray();
        for (var i = 0; i < list.Count; i++)
        {
            if (list[i] is not JsonObject step) return Fail($"steps[{i}] must be an object", out problem);
            var dependsOn = ReadDependencies(step["depends_on"], i, list.Count, out var dependencyProblem);
            if (dependsOn is null) return Fail($"steps[{i}]: {dependencyProblem}", out problem);
            var job = (JsonObject)step.DeepClone();
            job.Remove("depends_on");
            if (job.ContainsKey("idempotency_key"))
                return Fail($"steps[{i}]: 'idempotency_key' is not accepted on a workflow step", out problem);
            if (dependsOn.Count > 0 && job.ContainsKey("inputs"))
                return Fail($"steps[{i}]: 'inputs' is reserved for the results of the steps it depends on", out problem);
            var submission = JobSubmissionReader.Read(job, catalog, out var jobProblem, hasInputs: dependsOn.Count > 0);
            if (submission is null) return Fail($"steps[{i}]: {StripPrefix(jobProblem)}", out problem);
            steps.Add(new WorkflowStepDefinition { Job = submission, DependsOn = dependsOn });
            var definition = (JsonObject)job.DeepClone();
            definition["depends_on"] = new JsonArray([.. dependsOn.Select(d => JsonValue.Create(d))]);
            stored.Add(definition);
        }
        if (FindCycle(steps) is { } cyclic)
            return Fail($"steps[{cyclic}] is part of a dependency cycle; the steps must form a DAG", out problem);

        return new WorkflowDefinition
        {
            Name = name, Description = description, Steps = steps, StepsJson = stored,
            FailurePolicy = policy ?? WorkflowFailurePolicy.FailFast, WebhookUrl = webhook,
        };
    }

    /// <summary>
    /// Kahn's algorithm: repeatedly take the steps with no unmet dependency. Steps never taken lie on or
    /// behind a cycle; the lowest-numbered one that is on a cycle itself is named, or null for a DAG.
    /// </summary>
    public static int? FindCycle(IReadOnlyList<WorkflowStepDefinition> steps)
    {
        var unmet = steps.Select(s => s.DependsOn.Count).ToArray();
        var dependents = new List<int>[steps.Count];
        for (var i = 0; i < steps.Count; i++) dependents[i] = [];
        for (var i = 0; i < steps.Count; i++)
            foreach (var d in steps[i].DependsOn) dependents[d].Add(i);
        var ready = new Queue<int>(Enumerable.Range(0, steps.Count).Where(i => unmet[i] == 0));
        var taken = 0;
        while (ready.TryDequeue(out var step))
        {
            taken++;
            foreach (var next in dependents[step])
                if (--unmet[next] == 0) ready.Enqueue(next);
        }
        if (taken == steps.Count) return null;
        // A step left over is on a cycle when following left-over dependencies from it comes back to it.
        var left = Enumerable.Range(0, steps.Count).Where(i => unmet[i] > 0).ToArray();
        return left.FirstOrDefault(start => Reaches(steps, unmet, start, start), left[0]);
    }

    private static bool Reaches(IReadOnlyList<WorkflowStepDefinition> steps, int[] unmet, int from, int target)
    {
        var seen = new HashSet<int>();
        var stack = new Stack<int>(steps[from].DependsOn.Where(d => unmet[d] > 0));
        while (stack.TryPop(out var step))
        {
            if (step == target) return true;
            if (!seen.Add(step)) continue;
            foreach (var d in steps[step].DependsOn.Where(d => unmet[d] > 0)) stack.Push(d);
        }
        return false;
    }

    /// <summary><c>depends_on</c>: absent, one index, or an array of indexes; each another step of the workflow.</summary>
    private static List<int>? ReadDependencies(JsonNode? node, int self, int count, out string? problem)
    {
        problem = null;
        var items = node switch
        {
            null => [],
            JsonArray array => array.ToArray(),
            _ => [node],
        };
        var result = new List<int>(items.Length);
        foreach (var item in items)
        {
            if (item is not JsonValue v || v.GetValueKind() != JsonValueKind.Number || !v.TryGetValue<double>(out var d) || !double.IsInteger(d))
            {
                problem = "'depends_on' must be a step index or an array of step indexes";
                return null;
            }
            if (d < 0 || d >= count)
            {
                problem = string.Create(CultureInfo.InvariantCulture, $"depends_on {d} is not a step of this workflow (its steps are 0 to {count - 1})");
                return null;
            }
            if ((int)d == self)
            {
                problem = "a step cannot depend on itself";
                return null;
            }
            if (!result.Contains((int)d)) result.Add((int)d);
        }
        result.Sort();
        return result;
    }

    private static bool TryText(JsonObject obj, string name, int maxLength, out string? value)
    {
        value = null;
        switch (obj[name])
        {
            case null: return true;
            case JsonValue v when v.GetValueKind() == JsonValueKind.String:
                value = v.GetValue<string>();
                return value.Length <= maxLength;
            default: return false;
        }
    }

    private static string? StripPrefix(string? message) =>
        message is not null && message.StartsWith("Validation failed: ", StringComparison.Ordinal) ? message["Validation failed: ".Length..] : message;

    private static WorkflowDefinition? Fail(string message, out string? problem)
    {
        problem = "Validation failed: " + message;
        return null;
    }
}
