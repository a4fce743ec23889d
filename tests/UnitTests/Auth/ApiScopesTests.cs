using Cluster.Grains.Interfaces;

namespace Cluster.UnitTests.Auth;

public sealed class ApiScopesTests
{
    [TestCase(ApiScopes.Submit)]
    [TestCase(ApiScopes.Worker)]
    [TestCase(ApiScopes.Monitor)]
    [TestCase(ApiScopes.Admin)]
    public void Admin_allows_every_scope(string required) =>
        Assert.That(ApiScopes.Allows([ApiScopes.Admin], required), Is.True);

    [Test]
    public void A_scope_allows_itself_and_nothing_else()
    {
        using (Assert.EnterMultipleScope())
        {
            Assert.That(ApiScopes.Allows([ApiScopes.Monitor], ApiScopes.Monitor), Is.True);
            Assert.That(ApiScopes.Allows([ApiScopes.Monitor], ApiScopes.Submit), Is.False);
            Assert.That(ApiScopes.Allows([ApiScopes.Submit, ApiScopes.Worker], ApiScopes.Admin), Is.False);
            Assert.That(ApiScopes.Allows([], ApiScopes.Monitor), Is.False);
        }
    }

    [Test]
    public void Only_the_four_scopes_are_known_and_case_matters()
    {
        Assert.That(ApiScopes.All.Where(ApiScopes.IsKnown).ToList(), Has.Count.EqualTo(4));
        Assert.That(ApiScopes.IsKnown("ADMIN") || ApiScopes.IsKnown("root"), Is.False);
    }
}
