using System.Net;
using System.Security.Claims;
using Cluster.Grains.Interfaces;
using Cluster.Silo.Auth;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Cluster.UnitTests.Auth;

/// <summary>
/// Who may read <c>/metrics</c>: the decision of its policy (<see cref="ScopeEndpointExtensions.ScopeOrLoopbackPolicy"/>)
/// made by ASP.NET Core's policy evaluator, as the authorization middleware makes it. Challenged is the 401 and
/// Forbidden the 403 that <see cref="ApiAuthorizationResultHandler"/> writes. The end-to-end tests can only call
/// from loopback (the silo binds 127.0.0.1), so the remote addresses are tested here; they are values, nothing is sent.
/// </summary>
public sealed class MetricsAccessTests
{
    private const string Remote = "203.0.113.7";
    private const string Lan = "192.168.1.20";

    private static readonly AuthorizationPolicy Policy = ScopeEndpointExtensions.ScopeOrLoopbackPolicy(ApiScopes.Admin);

    public enum Decision { Allowed, Unauthorized, Forbidden }

    [TestCase("127.0.0.1")]
    [TestCase("127.0.0.2")]
    [TestCase("::1")]
    [TestCase("::ffff:127.0.0.1")]
    public async Task A_loopback_caller_without_a_key_is_allowed(string address) =>
        Assert.That(await DecideAsync(address, user: null), Is.EqualTo(Decision.Allowed));

    [TestCase(Remote)]
    [TestCase(Lan)]
    [TestCase("::ffff:192.168.1.20")]
    [TestCase(null)]
    public async Task A_caller_from_another_address_without_a_key_gets_401(string? address) =>
        Assert.That(await DecideAsync(address, user: null), Is.EqualTo(Decision.Unauthorized));

    [TestCase(Remote, ApiScopes.Monitor)]
    [TestCase(Remote, ApiScopes.Submit)]
    [TestCase("127.0.0.1", ApiScopes.Monitor)]
    public async Task A_key_without_admin_gets_403_from_anywhere(string address, string scope) =>
        Assert.That(await DecideAsync(address, KeyWith(scope)), Is.EqualTo(Decision.Forbidden));

    [TestCase(Remote)]
    [TestCase("127.0.0.1")]
    public async Task An_admin_key_is_allowed_from_anywhere(string address) =>
        Assert.That(await DecideAsync(address, KeyWith(ApiScopes.Admin)), Is.EqualTo(Decision.Allowed));

    [TestCase("header")]
    [TestCase("query")]
    [TestCase("cookie")]
    public async Task A_loopback_caller_whose_credential_did_not_authenticate_gets_401_not_a_free_pass(string via) =>
        Assert.That(await DecideAsync("127.0.0.1", user: null, presented: via), Is.EqualTo(Decision.Unauthorized));

    private static ClaimsPrincipal KeyWith(string scope) =>
        ClusterClaims.For(new ApiKeyRecord(new string('a', 64), "test", [scope], "aaaa", DateTimeOffset.UnixEpoch), "header", ApiKeyAuthenticationHandler.SchemeName);

    /// <param name="user">The authenticated key, or null for a request whose credential (if any) did not authenticate.</param>
    /// <param name="presented">Where the request carries its credential: header, query or cookie.</param>
    private static async Task<Decision> DecideAsync(string? address, ClaimsPrincipal? user, string? presented = null)
    {
        await using var services = new ServiceCollection()
            .AddLogging()
            .AddAuthorization()
            .AddSingleton<IAuthorizationHandler, ScopeAuthorizationHandler>()
            .BuildServiceProvider();
        var http = new DefaultHttpContext { RequestServices = services, User = user ?? new ClaimsPrincipal(new ClaimsIdentity()) };
        http.Connection.RemoteIpAddress = address is null ? null : IPAddress.Parse(address);
        if (user is not null) presented ??= "header"; // an authenticated caller always came with a credential
        switch (presented)
        {
            case "header": http.Request.Headers[ApiKeyAuthenticationHandler.HeaderName] = "not-a-key"; break;
            case "query": http.Request.QueryString = new QueryString($"?{ApiKeyAuthenticationHandler.QueryName}=not-a-key"); break;
            case "cookie": http.Request.Headers.Cookie = $"{ApiKeyAuthenticationHandler.SessionCookieName}=expired"; break;
        }
        var authentication = user is null
            ? AuthenticateResult.NoResult()
            : AuthenticateResult.Success(new AuthenticationTicket(user, ApiKeyAuthenticationHandler.SchemeName));

        var result = await services.GetRequiredService<IPolicyEvaluator>().AuthorizeAsync(Policy, authentication, http, http);

        return result.Succeeded ? Decision.Allowed : result.Challenged ? Decision.Unauthorized : Decision.Forbidden;
    }
}
