using Cluster.Grains.Interfaces.Errors;
using Cluster.Grains.Redis;

namespace Cluster.Grains.Functions;

/// <summary>Calls the cluster library's functions, turning their coded error replies into <see cref="ClusterException"/>.</summary>
internal static class FunctionCalls
{
    private static readonly HashSet<string> DomainCodes =
    [
        ErrorCodes.ValidationError, ErrorCodes.JobNotFound, ErrorCodes.WorkerNotFound, ErrorCodes.MachineIdRequired,
        ErrorCodes.StaleLease, ErrorCodes.InvalidState, ErrorCodes.DuplicateJob, ErrorCodes.WorkerOffline,
        ErrorCodes.WorkflowNotFound,
    ];

    public static async Task<RespValue> CallAsync(this IRedis redis, string function, RedisArg[] args, CancellationToken cancellationToken)
    {
        var command = new RedisArg[args.Length + 2];
        command[0] = function;
        command[1] = 0;
        args.CopyTo(command, 2);
        try
        {
            return await redis.ExecuteAsync("FCALL", command, cancellationToken).ConfigureAwait(false);
        }
        catch (RedisServerException e) when (DomainCodes.Contains(e.Code))
        {
            throw new ClusterException(e.Code, e.Message[(e.Code.Length + 1)..]);
        }
    }
}
