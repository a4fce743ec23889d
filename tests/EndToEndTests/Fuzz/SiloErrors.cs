using System.Text.RegularExpressions;
using Cluster.Testing;

namespace Cluster.EndToEndTests.Fuzz;

/// <summary>
/// Error lines the silo printed from its own code or ASP.NET Core's (where an exception a handler let escape is logged),
/// since a mark: a malformed request may be answered properly and still have cost the silo an exception it did not expect.
/// </summary>
internal static partial class SiloErrors
{
    public static (int Out, int Err) Mark(SiloProcess silo) => (silo.StandardOutput.Count, silo.StandardError.Count);

    public static List<string> Since(SiloProcess silo, (int Out, int Err) mark) =>
        [.. silo.StandardOutput.Skip(mark.Out).Concat(silo.StandardError.Skip(mark.Err)).Where(line => ErrorLine().IsMatch(line))];

    [GeneratedRegex(@"^\S+ \S+ (ERR|FTL) (Cluster\.|Microsoft\.AspNetCore\.)")]
    private static partial Regex ErrorLine();
}
