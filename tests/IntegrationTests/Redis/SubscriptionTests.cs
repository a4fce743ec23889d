using System.Collections.Concurrent;
using Cluster.Grains.Redis;
using Cluster.Testing;

namespace Cluster.IntegrationTests.Redis;

public sealed class SubscriptionTests : RedisServerTest
{
    [TestCase(2)]
    [TestCase(3)]
    public async Task Messages_on_every_subscribed_channel_arrive_in_order(int protocol)
    {
        await using var client = await RedisServer.ConnectAsync(o => o with { Protocol = protocol });
        var received = new BlockingCollection<string>();

        await using var subscription = await client.SubscribeAsync(["news", "alerts"], (channel, message) => received.Add($"{channel}:{message}"));
        for (var i = 0; i < 50; i++) await client.ExecuteAsync("PUBLISH", i % 2 == 0 ? "news" : "alerts", $"m{i}");
        await client.ExecuteAsync("PUBLISH", "elsewhere", "not for us");
        await client.ExecuteAsync("PUBLISH", "news", "last");

        var messages = Take(received, 51);
        Assert.That(messages, Is.EqualTo(Enumerable.Range(0, 50).Select(i => (i % 2 == 0 ? "news" : "alerts") + $":m{i}").Append("news:last")));
    }

    [Test]
    public async Task A_pattern_subscription_receives_the_actual_channel()
    {
        var received = new BlockingCollection<string>();

        await using var subscription = await RedisServer.Client.SubscribeToPatternsAsync(["job:*"], (channel, message) => received.Add($"{channel}:{message}"));
        await RedisServer.Client.ExecuteAsync("PUBLISH", "worker:1", "ignored");
        await RedisServer.Client.ExecuteAsync("PUBLISH", "job:42", "done");

        Assert.That(Take(received, 1), Is.EqualTo(new[] { "job:42:done" }));
    }

    [Test]
    public async Task A_subscription_subscribes_again_after_its_connection_is_killed()
    {
        var received = new BlockingCollection<string>();
        await using var subscription = (RedisSubscription)await RedisServer.Client.SubscribeAsync(["resilient"], (_, message) => received.Add(message.ToString()));
        await RedisServer.Client.ExecuteAsync("PUBLISH", "resilient", "before");
        Assert.That(Take(received, 1), Is.EqualTo(new[] { "before" }));

        await RedisServer.Client.ExecuteAsync("CLIENT", "KILL", "TYPE", "pubsub");
        await Eventually.UntilAsync(async () => (await RedisServer.Client.ExecuteAsync("PUBLISH", "resilient", "probe")).Integer == 1, "the subscriber is back");
        await RedisServer.Client.ExecuteAsync("PUBLISH", "resilient", "after");

        Assert.That(Take(received, 2), Is.EqualTo(new[] { "probe", "after" }), "only the probe published after the resubscription arrives");
        Assert.That(subscription.Resubscriptions, Is.EqualTo(1));
    }

    [Test]
    public async Task Disposing_a_subscription_unsubscribes()
    {
        var subscription = await RedisServer.Client.SubscribeAsync(["short-lived"], (_, _) => { });
        Assert.That(await SubscribersAsync("short-lived"), Is.EqualTo(1));

        await subscription.DisposeAsync();

        await Eventually.UntilAsync(async () => await SubscribersAsync("short-lived") == 0, "the server drops the subscription");
    }

    [Test]
    public async Task A_handler_that_throws_does_not_end_the_subscription()
    {
        var received = new BlockingCollection<string>();
        await using var subscription = await RedisServer.Client.SubscribeAsync(["fragile"], (_, message) =>
        {
            if (message.ToString() == "bad") throw new InvalidOperationException("handler bug");
            received.Add(message.ToString());
        });

        await RedisServer.Client.ExecuteAsync("PUBLISH", "fragile", "bad");
        await RedisServer.Client.ExecuteAsync("PUBLISH", "fragile", "good");

        Assert.That(Take(received, 1), Is.EqualTo(new[] { "good" }));
    }

    private async Task<long> SubscribersAsync(string channel) =>
        (await RedisServer.Client.ExecuteAsync("PUBSUB", "NUMSUB", channel)).Items[1].Integer;

    private static List<string> Take(BlockingCollection<string> received, int count)
    {
        var taken = new List<string>();
        while (taken.Count < count)
        {
            if (!received.TryTake(out var message, TimeSpan.FromSeconds(10))) Assert.Fail($"only {taken.Count} of {count} messages arrived: {string.Join(", ", taken)}");
            taken.Add(message!);
        }
        return taken;
    }
}
