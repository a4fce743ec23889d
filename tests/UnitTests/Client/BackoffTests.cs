using Cluster.Client.Agent;

namespace Cluster.UnitTests.Client;

public class BackoffTests
{
    [Test]
    public void Delays_grow_exponentially_with_jitter_and_never_pass_the_cap()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), new Random(7));

        var delays = Enumerable.Range(0, 12).Select(_ => backoff.Next().TotalMilliseconds).ToList();

        Assert.That(delays[0], Is.InRange(400, 600));
        Assert.That(delays[1], Is.InRange(800, 1200));
        Assert.That(delays[2], Is.InRange(1600, 2400));
        Assert.That(delays, Is.All.LessThanOrEqualTo(10_000));
        Assert.That(delays.Skip(6), Is.All.GreaterThanOrEqualTo(8_000), "at the cap, jitter only shortens");
    }

    [Test]
    public void A_reset_starts_again_from_the_shortest_delay()
    {
        var backoff = new Backoff(TimeSpan.FromMilliseconds(500), TimeSpan.FromSeconds(10), new Random(7));
        for (var i = 0; i < 8; i++) backoff.Next();

        backoff.Reset();

        Assert.That(backoff.Next().TotalMilliseconds, Is.InRange(400, 600));
    }
}
