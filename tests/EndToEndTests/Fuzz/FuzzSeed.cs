using System.Globalization;

namespace Cluster.EndToEndTests.Fuzz;

/// <summary>
/// The seed of a fuzz run: <c>CLUSTER_FUZZ_SEED</c> when set (to replay a failure), else a new one each run, so that
/// runs keep exploring. Every assertion message names it.
/// </summary>
internal static class FuzzSeed
{
    public const string Variable = "CLUSTER_FUZZ_SEED";

    public static int Choose()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable(Variable), NumberStyles.Integer, CultureInfo.InvariantCulture, out var given)
            ? given
            : Random.Shared.Next();
        TestContext.Out.WriteLine($"fuzz seed {seed} (replay with {Variable}={seed})");
        return seed;
    }

    public static string Describe(int seed) => $"seed {seed}; replay with {Variable}={seed}";
}
