using System.Globalization;
using System.Security.Claims;
using System.Text.Json.Serialization;
using Cluster.Grains.Interfaces;
using Cluster.Grains.Interfaces.Users;
using Cluster.Silo.Api;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using GrainFactory = Cluster.Grains.GrainFactory;

namespace Cluster.Silo.Auth;

public sealed record RegisterRequest(
    [property: JsonPropertyName("email")] string? Email,
    [property: JsonPropertyName("password")] string? Password,
    [property: JsonPropertyName("invitation")] string? Invitation);

public sealed record LoginRequest(
    [property: JsonPropertyName("email")] string? Email,
    [property: JsonPropertyName("password")] string? Password);

public sealed record UserSummary(
    [property: JsonPropertyName("id")] string Id,
    [property: JsonPropertyName("email")] string Email,
    [property: JsonPropertyName("role")] string Role,
    [property: JsonPropertyName("disabled")] bool Disabled,
    [property: JsonPropertyName("created_at")] string CreatedAt,
    [property: JsonPropertyName("locked_until"), JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)] string? LockedUntil)
{
    public static UserSummary Of(UserView u) => new(u.Id, u.Email, u.Role, u.Disabled, u.CreatedAt, u.LockedUntil);
}

/// <summary>
/// Accounts (seed 004): <c>/api/auth/register</c>, <c>/api/auth/login</c> (a bearer token and the session cookie),
/// <c>/api/auth/logout</c>; for admins, invitation codes (<c>/api/auth/invitations</c>) and the accounts
/// (<c>/api/users</c>). Passwords are hashed with ASP.NET Core's <see cref="PasswordHasher{TUser}"/> at the silo that
/// received them and never leave it: the account's grain keeps the hash.
/// </summary>
public static class UserEndpoints
{
    public const int MinPasswordLength = 10;
    public const int MaxPasswordLength = 128;
    public const int MaxEmailLength = 254;
    private const string InvitationPrefix = "invitation:";
    private static readonly PasswordHasher<string> Hasher = new();
    // A login for an email with no account checks the password against this, so it takes as long as one that has an account.
    private static readonly string NobodysHash = Hasher.HashPassword("", ApiKeySecret.RandomToken());

    public static IEndpointRouteBuilder MapUserEndpoints(this IEndpointRouteBuilder endpoints)
    {
        var auth = endpoints.MapGroup("/api/auth");
        auth.MapPost("/register", RegisterAsync);
        auth.MapPost("/login", LoginAsync);
        auth.MapPost("/logout", LogoutAsync);
        auth.MapPost("/invitations", InviteAsync).RequireScope(ApiScopes.Admin);
        var users = endpoints.MapGroup("/api/users").RequireScope(ApiScopes.Admin);
        users.MapGet("", ListAsync);
        users.MapPost("/{id}/disable", (string id, GrainFactory grains, ApiKeyStore keys, CancellationToken ct) => SetDisabledAsync(id, true, grains, keys, ct));
        users.MapPost("/{id}/enable", (string id, GrainFactory grains, ApiKeyStore keys, CancellationToken ct) => SetDisabledAsync(id, false, grains, keys, ct));
        return endpoints;
    }

    /// <summary>What is wrong with a password, or null: length only, as NIST SP 800-63B advises, and not the email itself.</summary>
    public static string? PasswordProblem(string password, string email) =>
        password.Length < MinPasswordLength || password.Length > MaxPasswordLength
            ? $"'password' must be {MinPasswordLength} to {MaxPasswordLength} characters"
            : string.Equals(password.Trim(), email.Trim(), StringComparison.OrdinalIgnoreCase) ? "'password' must not be the email" : null;

    private static string? EmailProblem(string email)
    {
        var at = email.IndexOf('@', StringComparison.Ordinal);
        return email.Length > MaxEmailLength || at < 1 || at == email.Length - 1 || email.IndexOf('@', at + 1) >= 0 || email.Any(char.IsWhiteSpace)
            ? $"'email' must be an email address of at most {MaxEmailLength} characters"
            : null;
    }

    private static async Task<IResult> RegisterAsync(HttpRequest http, GrainFactory grains, IConnectionMultiplexer redis, IOptions<AuthOptions> options, CancellationToken cancellationToken)
    {
        var (request, error) = await JsonBody.ReadAsync<RegisterRequest>(http, cancellationToken).ConfigureAwait(false);
        if (error is not null) return error;
        var email = request?.Email?.Trim() ?? "";
        var password = request?.Password ?? "";
        if (EmailProblem(email) is { } badEmail) return ApiError.Validation(badEmail);
        if (PasswordProblem(password, email) is { } badPassword) return ApiError.Validation(badPassword);

        var id = UserIds.Of(email);
        var mode = options.Value.Registration;
        if (mode == RegistrationModes.Closed)
            return ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden, "Registration is closed: an admin creates accounts (Auth:Registration)");
        if (mode == RegistrationModes.Invite)
        {
            if (string.IsNullOrWhiteSpace(request!.Invitation))
                return ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden, "Registration needs an invitation code from an admin ('invitation')");
            // A taken email is refused before the code is used up, so that a mistyped address does not cost the invitation.
            if (await grains.User(id).GetAsync().WaitAsync(cancellationToken).ConfigureAwait(false) is not null) return Taken();
            // Used up as it is checked, so that one code makes one account even when two registrations race.
            var invited = await redis.GetDatabase().StringGetDeleteAsync(InvitationPrefix + ApiKeySecret.Hash(request.Invitation.Trim())).WaitAsync(cancellationToken).ConfigureAwait(false);
            if (invited.IsNull)
                return ApiError.Result(StatusCodes.Status403Forbidden, ApiError.Forbidden, "The invitation code is not valid, was used, or expired");
        }

        if (!await grains.User(id).RegisterAsync(email, Hasher.HashPassword(id, password), UserRoles.User).WaitAsync(cancellationToken).ConfigureAwait(false))
            return Taken();
        var user = await grains.User(id).GetAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        return Results.Json(new { success = true, user = UserSummary.Of(user!) }, statusCode: StatusCodes.Status201Created);
    }

    private static IResult Taken() => ApiError.Result(StatusCodes.Status409Conflict, ApiError.Conflict, "An account with this email exists already");

    private static async Task<IResult> LoginAsync(HttpContext context, GrainFactory grains, SessionStore sessions, IOptions<AuthOptions> options, CancellationToken cancellationToken)
    {
        var (request, error) = await JsonBody.ReadAsync<LoginRequest>(context.Request, cancellationToken).ConfigureAwait(false);
        if (error is not null) return error;
        var email = request?.Email?.Trim() ?? "";
        var password = request?.Password ?? "";
        if (email.Length == 0 || email.Length > MaxEmailLength || password.Length == 0 || password.Length > MaxPasswordLength)
            return ApiError.Validation($"'email' and 'password' are required, at most {MaxEmailLength} and {MaxPasswordLength} characters");

        var id = UserIds.Of(email);
        var account = grains.User(id);
        var login = await account.GetLoginAsync().WaitAsync(cancellationToken).ConfigureAwait(false);
        if (login.LockedUntil is { } lockedUntil)
        {
            ApiError.RetryAfter(context.Response, DateTimeOffset.Parse(lockedUntil, CultureInfo.InvariantCulture) - DateTimeOffset.UtcNow);
            return ApiError.Result(StatusCodes.Status429TooManyRequests, ApiError.RateLimited, $"Too many failed logins for this email; try again after {lockedUntil}");
        }
        // The same work whether or not the account exists: no answer time tells who has one.
        var verdict = Hasher.VerifyHashedPassword(id, login.PasswordHash ?? NobodysHash, password);
        var succeeded = login.User is { Disabled: false } && verdict != PasswordVerificationResult.Failed;
        var failures = await account.LoginAttemptedAsync(succeeded,
            succeeded && verdict == PasswordVerificationResult.SuccessRehashNeeded ? Hasher.HashPassword(id, password) : null).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (!succeeded)
        {
            // Each failure in a row answers a little later, up to a second, before the lock stops them altogether.
            await Task.Delay(TimeSpan.FromMilliseconds(200 * Math.Min(failures, 5)), cancellationToken).ConfigureAwait(false);
            return ApiError.Result(StatusCodes.Status401Unauthorized, ApiError.Unauthorized, "The email or password is wrong, or the account is disabled");
        }

        var token = await sessions.CreateForUserAsync(id, cancellationToken).ConfigureAwait(false);
        var lifetime = options.Value.SessionLifetime;
        SessionEndpoints.SetCookie(context, token, lifetime);
        return Results.Json(new { success = true, token, expires_at = DateTimeOffset.UtcNow + lifetime, user = UserSummary.Of(login.User!) });
    }

    private static async Task<IResult> LogoutAsync(HttpContext context, SessionStore sessions, CancellationToken cancellationToken)
    {
        if (ApiKeyAuthenticationHandler.BearerToken(context.Request) is { } token)
            await sessions.DeleteAsync(token, cancellationToken).ConfigureAwait(false);
        if (context.Request.Cookies.TryGetValue(ApiKeyAuthenticationHandler.SessionCookieName, out var sessionId) && !string.IsNullOrEmpty(sessionId))
            await sessions.DeleteAsync(sessionId, cancellationToken).ConfigureAwait(false);
        SessionEndpoints.ClearCookie(context);
        return Results.Json(new { success = true });
    }

    private static async Task<IResult> InviteAsync(IConnectionMultiplexer redis, IOptions<AuthOptions> options, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var code = ApiKeySecret.RandomToken();
        var lifetime = options.Value.InvitationLifetime;
        await redis.GetDatabase().StringSetAsync(InvitationPrefix + ApiKeySecret.Hash(code), user.KeyIdOf() ?? "", lifetime).WaitAsync(cancellationToken).ConfigureAwait(false);
        return Results.Json(new { success = true, invitation = code, expires_at = DateTimeOffset.UtcNow + lifetime }, statusCode: StatusCodes.Status201Created);
    }

    private static async Task<IResult> ListAsync(GrainFactory grains, CancellationToken cancellationToken)
    {
        var users = await grains.ListUsersAsync(cancellationToken).ConfigureAwait(false);
        return Results.Json(new { success = true, users = users.Select(UserSummary.Of) });
    }

    /// <summary>Disabling ends the account's logins and sessions and deletes its API keys; enabling lets it log in again.</summary>
    private static async Task<IResult> SetDisabledAsync(string id, bool disabled, GrainFactory grains, ApiKeyStore keys, CancellationToken cancellationToken)
    {
        var account = UserIds.IsId(id) ? grains.User(id) : null;
        if (account is null || !await account.SetDisabledAsync(disabled).WaitAsync(cancellationToken).ConfigureAwait(false))
            return ApiError.Result(StatusCodes.Status404NotFound, ApiError.NotFound, $"No account has the id '{id}'");
        if (disabled)
            foreach (var key in (await keys.ListAsync(cancellationToken).ConfigureAwait(false)).Where(k => k.Owner == id))
                await keys.DeleteAsync(key.Id, id, cancellationToken).ConfigureAwait(false);
        return Results.Json(new { success = true, user = UserSummary.Of((await account.GetAsync().WaitAsync(cancellationToken).ConfigureAwait(false))!) });
    }
}
