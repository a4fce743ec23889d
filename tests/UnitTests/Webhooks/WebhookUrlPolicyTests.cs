using System.Net;
using Cluster.Silo.Webhooks;

namespace Cluster.UnitTests.Webhooks;

public sealed class WebhookUrlPolicyTests
{
    [TestCase("127.0.0.1", "loopback")]
    [TestCase("127.8.9.10", "loopback")]
    [TestCase("::1", "loopback")]
    [TestCase("10.1.2.3", "private")]
    [TestCase("172.16.0.1", "private")]
    [TestCase("172.31.255.255", "private")]
    [TestCase("192.168.1.1", "private")]
    [TestCase("fc00::1", "private")]
    [TestCase("fd12:3456::1", "private")]
    [TestCase("169.254.169.254", "link-local")]
    [TestCase("fe80::1", "link-local")]
    [TestCase("0.0.0.0", "unspecified")]
    [TestCase("::", "unspecified")]
    [TestCase("::ffff:127.0.0.1", "loopback")]
    [TestCase("::ffff:10.0.0.1", "private")]
    [TestCase("224.0.0.1", "multicast or reserved")]
    public void Internal_addresses_are_refused_and_named(string address, string kind)
    {
        var ip = IPAddress.Parse(address);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(WebhookUrlPolicy.IsPublic(ip), Is.False);
            Assert.That(WebhookUrlPolicy.Describe(ip), Is.EqualTo(kind));
        }
    }

    [TestCase("8.8.8.8")]
    [TestCase("172.15.0.1")]
    [TestCase("172.32.0.1")]
    [TestCase("192.169.0.1")]
    [TestCase("169.255.0.1")]
    [TestCase("2001:4860:4860::8888")]
    [TestCase("::ffff:93.184.216.34")]
    public void Public_addresses_are_allowed(string address) =>
        Assert.That(WebhookUrlPolicy.IsPublic(IPAddress.Parse(address)), Is.True);

    [TestCase("ftp://example.test/hook")]
    [TestCase("/relative/hook")]
    [TestCase("not a url")]
    [TestCase("file:///etc/passwd")]
    public async Task Only_absolute_http_and_https_urls_are_accepted(string url)
    {
        var problem = await WebhookUrlPolicy.CheckAsync(url, allowPrivateNetworks: true);
        Assert.That(problem, Does.Contain("absolute http or https URL"));
    }

    [TestCase("http://127.0.0.1:8080/hook")]
    [TestCase("http://[::1]/hook")]
    [TestCase("https://10.0.0.5/hook")]
    [TestCase("http://169.254.169.254/latest/meta-data")]
    [TestCase("http://localhost:9000/hook")]
    [TestCase("http://api.localhost/hook")]
    [TestCase("http://0.0.0.0/hook")]
    public async Task Urls_aimed_at_internal_hosts_are_refused_unless_private_networks_are_allowed(string url)
    {
        var refused = await WebhookUrlPolicy.CheckAsync(url, allowPrivateNetworks: false);
        var allowed = await WebhookUrlPolicy.CheckAsync(url, allowPrivateNetworks: true);
        using (Assert.EnterMultipleScope())
        {
            Assert.That(refused, Is.Not.Null.And.Contains("'webhook_url'"));
            Assert.That(allowed, Is.Null);
        }
    }

    [Test]
    public async Task A_public_address_literal_and_no_url_at_all_are_accepted()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(await WebhookUrlPolicy.CheckAsync("https://93.184.216.34/hook", allowPrivateNetworks: false), Is.Null);
            Assert.That(await WebhookUrlPolicy.CheckAsync(null, allowPrivateNetworks: false), Is.Null);
        }
    }

    [Test]
    public void Redacted_urls_keep_scheme_host_and_port_but_no_credentials_path_or_query() =>
        Assert.That(WebhookUrlPolicy.Redact("https://user:s3cret@hooks.example.test:8443/path/abc?token=xyz"), Is.EqualTo("https://hooks.example.test:8443"));
}
