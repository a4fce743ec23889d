using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Client.Cli;

/// <summary><c>cluster submit --type T [--priority P] [--payload JSON | --payload-file F] [--requirements JSON] [--wait]</c></summary>
public static class SubmitCommand
{
    public static Command Create(GlobalOptions global, CliEnvironment environment)
    {
        var type = new Option<string>("--type") { Description = "The job type (see GET /api/job-types)", Required = true };
        var priority = new Option<int?>("--priority") { Description = "0–1000, higher first (default 50)" };
        var payload = new Option<string>("--payload") { Description = "The job's fields as a JSON object" };
        var payloadFile = new Option<FileInfo>("--payload-file") { Description = "A file holding the JSON object, or - for stdin" };
        var requirements = new Option<string>("--requirements") { Description = "{\"gpu_memory\":16,\"model_type\":…,\"capabilities\":[…],\"pool_preference\":…}" };
        var maxRetries = new Option<int?>("--max-retries") { Description = "Retries after a failure before the job is dead (default 3)" };
        var idempotencyKey = new Option<string>("--idempotency-key") { Description = "A repeat with the same key within 24 h returns the first job" };
        var wait = new Option<bool>("--wait") { Description = "Follow the job until it ends; exit 1 if it ends dead or cancelled" };

        var command = new Command("submit", "Submit a job and print its id") { type, priority, payload, payloadFile, requirements, maxRetries, idempotencyKey, wait };
        command.SetAction((parse, cancellationToken) => new CommandRunner(environment).RunAsync(async () =>
        {
            var job = BuildJob(parse.GetValue(type)!, parse.GetValue(priority), ReadPayload(parse.GetValue(payload), parse.GetValue(payloadFile)),
                parse.GetValue(requirements), parse.GetValue(maxRetries));
            using var client = global.CreateClient(parse);
            var submitted = await client.SubmitAsync(job, parse.GetValue(idempotencyKey), cancellationToken).ConfigureAwait(false);
            environment.Out.WriteLine(submitted.JobId);
            if (submitted.Duplicate) environment.Error.WriteLine("(an earlier submission with this idempotency key; its job id is printed)");
            if (!parse.GetValue(wait)) return ExitCodes.Ok;

            JobState? last = null;
            await foreach (var state in client.WatchAsync(submitted.JobId, cancellationToken).ConfigureAwait(false))
            {
                environment.Error.WriteLine(Describe(state));
                last = state;
            }
            if (last?.Status == JobStatus.Completed)
            {
                if (last.Result is not null) environment.Out.WriteLine(JsonOutput.Pretty(last.Result));
                return ExitCodes.Ok;
            }
            if (last?.Error is { } error) environment.Error.WriteLine($"error: {error.Code}: {error.Message}");
            return ExitCodes.Failed;
        }, () => global.ResolveSilo(parse).ToString()));
        return command;
    }

    /// <summary>The job body: the payload's fields with the options' reserved fields on top (the silo keeps the whole body as the payload).</summary>
    internal static JsonObject BuildJob(string type, int? priority, JsonObject? payload, string? requirements, int? maxRetries)
    {
        var job = payload ?? new JsonObject();
        job["type"] = type;
        if (priority is { } p) job["priority"] = p;
        if (maxRetries is { } retries) job["max_retries"] = retries;
        if (requirements is not null)
            job["requirements"] = JsonNode.Parse(requirements) as JsonObject ?? throw new CliUsageException("--requirements must be a JSON object.");
        return job;
    }

    private static JsonObject? ReadPayload(string? inline, FileInfo? file)
    {
        if (inline is not null && file is not null) throw new CliUsageException("Give --payload or --payload-file, not both.");
        string? text = inline;
        if (file is not null) text = file.Name == "-" ? Console.In.ReadToEnd() : File.ReadAllText(file.FullName);
        if (text is null) return null;
        try
        {
            return JsonNode.Parse(text) as JsonObject ?? throw new CliUsageException("The payload must be a JSON object.");
        }
        catch (JsonException e)
        {
            throw new CliUsageException($"The payload is not valid JSON: {e.Message}");
        }
    }

    internal static string Describe(JobState job)
    {
        var progress = job.Progress > 0 && !JobStatus.IsTerminal(job.Status) ? $" {job.Progress.ToString("0.#", CultureInfo.InvariantCulture)}%" : "";
        var message = string.IsNullOrEmpty(job.ProgressMessage) || JobStatus.IsTerminal(job.Status) ? "" : $" {job.ProgressMessage}";
        var worker = job.WorkerId is null ? "" : $" on {job.WorkerId}";
        var retry = job.RetryCount > 0 ? $" (retry {job.RetryCount}/{job.MaxRetries})" : "";
        return $"{job.Status}{progress}{message}{worker}{retry}";
    }
}
