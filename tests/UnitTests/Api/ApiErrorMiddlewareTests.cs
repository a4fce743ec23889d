using System.Text.Json;
using Cluster.Silo.Api;
using Cluster.Silo.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Orleans.Runtime;
using StackExchange.Redis;

namespace Cluster.UnitTests.Api;

/// <summary>What a request that failed inside the cluster answers: a 503 the client may retry, not a 500, when the cause is passing.</summary>
public sealed class ApiErrorMiddlewareTests
{
    private static async Task<(int Status, string Code, string RetryAfter)> AnswerAsync(Exception thrown)
    {
        var middleware = new ApiErrorMiddleware(_ => throw thrown, Options.Create(new ClusterOptions()), NullLogger<ApiErrorMiddleware>.Instance);
        var context = new DefaultHttpContext();
        context.Response.Body = new MemoryStream();
        await middleware.InvokeAsync(context);
        context.Response.Body.Position = 0;
        using var body = await JsonDocument.ParseAsync(context.Response.Body);
        return (context.Response.StatusCode, body.RootElement.GetProperty("error").GetProperty("code").GetString()!, context.Response.Headers.RetryAfter.ToString());
    }

    [Test]
    public async Task Redis_unreachable_behind_a_grain_storage_error_answers_503()
    {
        var storage = new OrleansException("Error from storage provider OutboxGrainStorage.job during ReadStateAsync",
            new RedisConnectionException(ConnectionFailureType.SocketFailure, "Connection reset by peer"));

        var (status, code, _) = await AnswerAsync(storage);

        Assert.That((status, code), Is.EqualTo((503, "UNAVAILABLE")));
    }

    [Test]
    public async Task A_grain_on_a_silo_that_just_died_answers_503_with_Retry_After()
    {
        var (status, code, retryAfter) = await AnswerAsync(new SiloUnavailableException("The target silo became unavailable"));

        Assert.That((status, code, retryAfter), Is.EqualTo((503, "UNAVAILABLE", "1")));
    }

    [Test]
    public async Task Anything_else_answers_500()
    {
        var (status, code, _) = await AnswerAsync(new InvalidOperationException("a bug"));

        Assert.That((status, code), Is.EqualTo((500, "INTERNAL_ERROR")));
    }
}
