using Cluster.Grains.Redis;

namespace Cluster.IntegrationTests.Redis;

public sealed class TimeoutAndCancellationTests : RedisServerTest
{
    [Test]
    public async Task A_call_that_outlives_its_timeout_fails_with_a_timeout_exception_and_later_calls_still_work()
    {
        // The server holds the connection for a second; the caller gives up after a tenth of it.
        var slow = RedisServer.Client.ExecuteAsync("BLPOP", ["nothing", 1], CancellationToken.None, TimeSpan.FromMilliseconds(100));
        var next = RedisServer.Client.ExecuteAsync("ECHO", "next");

        Assert.That(async () => await slow, Throws.TypeOf<RedisTimeoutException>().With.Message.Contains("BLPOP"));
        Assert.That((await next).ToString(), Is.EqualTo("next"), "the late BLPOP reply went to nobody, not to the next caller");
        Assert.That((await RedisServer.Client.ExecuteAsync("PING")).ToString(), Is.EqualTo("PONG"));
    }

    [Test]
    public async Task A_short_timeout_behind_a_long_one_still_fires()
    {
        var longWait = RedisServer.Client.ExecuteAsync("BLPOP", ["nothing", 1], CancellationToken.None, TimeSpan.FromSeconds(30));
        var shortWait = RedisServer.Client.ExecuteAsync("PING", [], CancellationToken.None, TimeSpan.FromMilliseconds(100));

        Assert.That(async () => await shortWait, Throws.TypeOf<RedisTimeoutException>());
        Assert.That((await longWait).IsNull, Is.True);
    }

    [Test]
    public async Task A_cancelled_call_ends_with_a_cancellation_and_later_calls_still_work()
    {
        using var cancel = new CancellationTokenSource();
        var slow = RedisServer.Client.ExecuteAsync("BLPOP", ["nothing", 1], cancel.Token);
        var next = RedisServer.Client.ExecuteAsync("ECHO", "next");

        await cancel.CancelAsync();

        Assert.That(async () => await slow, Throws.InstanceOf<OperationCanceledException>());
        Assert.That((await next).ToString(), Is.EqualTo("next"));
        Assert.That((await RedisServer.Client.ExecuteAsync("ECHO", "later")).ToString(), Is.EqualTo("later"));
    }

    [Test]
    public void A_call_with_an_already_cancelled_token_is_not_sent()
    {
        using var cancel = new CancellationTokenSource();
        cancel.Cancel();

        Assert.That(() => RedisServer.Client.ExecuteAsync("SET", ["not-sent", "x"], cancel.Token), Throws.InstanceOf<OperationCanceledException>());
        Assert.That(async () => (await RedisServer.Client.ExecuteAsync("EXISTS", "not-sent")).Integer, Is.Zero);
    }
}
