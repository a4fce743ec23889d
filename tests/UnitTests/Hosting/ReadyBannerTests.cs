using Cluster.Silo.Hosting;

namespace Cluster.UnitTests.Hosting;

public sealed class ReadyBannerTests
{
    [TestCase("http://[::]:5000", "http://localhost:5000")]
    [TestCase("http://0.0.0.0:5000/", "http://localhost:5000")]
    [TestCase("http://+:8080", "http://localhost:8080")]
    [TestCase("http://127.0.0.1:41234", "http://127.0.0.1:41234")]
    public void A_wildcard_bind_address_is_shown_as_a_URL_a_browser_can_open(string bound, string shown) =>
        Assert.That(ReadyBanner.Openable(bound), Is.EqualTo(shown));
}
