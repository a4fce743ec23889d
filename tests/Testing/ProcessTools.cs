using System.Globalization;
using System.Runtime.InteropServices;

namespace Cluster.Testing;

/// <summary>Linux process facts and signals the tests need and <see cref="System.Diagnostics.Process"/> does not offer.</summary>
public static class ProcessTools
{
    public const int SigTerm = 15;
    public const int SigKill = 9;

    public static void Signal(int pid, int signal)
    {
        if (kill(pid, signal) != 0) throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>True while the process runs; a zombie (dead, not yet reaped by its new parent) counts as gone.</summary>
    public static bool IsAlive(int pid)
    {
        var stat = ReadStat(pid);
        return stat is not null && stat.Value.State != 'Z' && stat.Value.State != 'X';
    }

    /// <summary>The command names of the live children of <paramref name="parentPid"/>.</summary>
    public static IReadOnlyList<(int Pid, string Name)> ChildrenOf(int parentPid)
    {
        var children = new List<(int, string)>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), NumberStyles.None, CultureInfo.InvariantCulture, out var pid)) continue;
            if (ReadStat(pid) is { } stat && stat.ParentPid == parentPid && stat.State != 'Z') children.Add((pid, stat.Name));
        }
        return children;
    }

    private static (string Name, char State, int ParentPid)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
        // "pid (comm) state ppid …" — comm may itself contain spaces and parentheses.
        var open = text.IndexOf('(', StringComparison.Ordinal);
        var close = text.LastIndexOf(')');
        var rest = text[(close + 2)..].Split(' ');
        return (text[(open + 1)..close], rest[0][0], int.Parse(rest[1], CultureInfo.InvariantCulture));
    }

    [DllImport("libc", SetLastError = true)]
#pragma warning disable SYSLIB1054, CA5392 // a one-line libc call; LibraryImport source generation buys nothing here
    private static extern int kill(int pid, int signal);
#pragma warning restore SYSLIB1054, CA5392
}
