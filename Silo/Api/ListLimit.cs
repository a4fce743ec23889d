using System.Diagnostics.CodeAnalysis;
using Cluster.Grains.Interfaces.Jobs;

namespace Cluster.Silo.Api;

/// <summary>The <c>limit</c> query parameter of every list route: 1 to 500, 50 when absent.</summary>
public static class ListLimit
{
    public const int Default = 50;

    public static bool TryRead(HttpRequest request, out int limit, [NotNullWhen(false)] out IResult? error)
    {
        var text = request.Query["limit"].ToString();
        limit = Default;
        error = null;
        if (text.Length == 0 || (int.TryParse(text, out limit) && limit is >= 1 and <= JobLimits.MaxListLimit)) return true;
        error = ApiError.Validation($"Validation failed: 'limit' must be a whole number from 1 to {JobLimits.MaxListLimit}");
        return false;
    }
}
