using System.Security.Claims;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Jobs;
using Cluster.Grains.Interfaces.Workflows;

namespace Cluster.Silo.Auth;

/// <summary>
/// Whose work is whose. A job or workflow belongs to the user whose key or login submitted it (its tenant); a key no
/// user owns (an admin's) submits work of no tenant. A caller sees, cancels and retries only its own tenant's work,
/// and gets the same 404 for another's as for none at all; <c>monitor</c> and <c>admin</c> see everything.
/// </summary>
public static class Tenancy
{
    /// <summary>Whether <paramref name="caller"/> may see work of <paramref name="tenant"/>.</summary>
    public static bool MaySee(ClaimsPrincipal caller, string? tenant) => MaySee(caller.Scopes(), caller.UserIdOf(), tenant);

    /// <summary>The same, for a caller known by its scopes and user (a WebSocket connection).</summary>
    public static bool MaySee(IEnumerable<string> scopes, string? userId, string? tenant) => SeesEveryTenant(scopes) || tenant == userId;

    /// <summary>Monitors and admins see every tenant's work.</summary>
    public static bool SeesEveryTenant(ClaimsPrincipal caller) => SeesEveryTenant(caller.Scopes());

    private static bool SeesEveryTenant(IEnumerable<string> scopes) => ApiScopes.Allows(scopes, ApiScopes.Monitor);

    /// <summary>
    /// The submission as the caller's: its tenant, and its idempotency key kept apart from other tenants' (the same key
    /// from two tenants makes two jobs, and never tells one the other's job id).
    /// </summary>
    public static JobSubmission Stamp(JobSubmission submission, ClaimsPrincipal caller) =>
        caller.UserIdOf() is { } tenant
            ? submission with { Tenant = tenant, IdempotencyKey = submission.IdempotencyKey is { } key ? tenant + "/" + key : null }
            : submission;

    /// <summary>The workflow and each of its steps' jobs as the caller's.</summary>
    public static WorkflowDefinition Stamp(WorkflowDefinition definition, ClaimsPrincipal caller) =>
        caller.UserIdOf() is { } tenant
            ? definition with { Tenant = tenant, Steps = [.. definition.Steps.Select(s => s with { Job = Stamp(s.Job, caller) })] }
            : definition;
}
