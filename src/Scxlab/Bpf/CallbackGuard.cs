using System.Diagnostics;
using Scxlab.Kernel;

namespace Scxlab.Bpf;

/// <summary>
/// The wall-clock guard for policy callbacks that spin without calling the BPF API. .NET cannot
/// interrupt such a loop (and a BPF program like it would not pass the verifier), so a watcher
/// thread reports which callback is stuck and ends the process instead of hanging.
/// </summary>
public static class CallbackGuard
{
    private static long _enteredAt;
    private static Thread? _watcher;
    private static readonly object Gate = new();

    /// <summary>How long one callback run may take; the default suits every built-in policy by orders of magnitude.</summary>
    public static TimeSpan Limit { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>What happens when the limit is hit (the CLI prints and exits with code 1).</summary>
    public static Action<string> OnStuck { get; set; } = message =>
    {
        Console.Error.WriteLine($"scxlab: {message}");
        Environment.Exit(1);
    };

    internal static void Enter(Machine m, ScxCallback cb)
    {
        _pendingName = m.Ops.Name;
        _pendingCb = cb;
        Volatile.Write(ref _enteredAt, Stopwatch.GetTimestamp());
        if (_watcher == null) StartWatcher();
    }

    private static volatile string? _pendingName;
    private static ScxCallback _pendingCb;

    internal static void Exit() => Volatile.Write(ref _enteredAt, 0);

    private static void StartWatcher()
    {
        lock (Gate)
        {
            if (_watcher != null) return;
            _watcher = new Thread(Watch) { IsBackground = true, Name = "scxlab callback guard" };
            _watcher.Start();
        }
    }

    private static void Watch()
    {
        while (true)
        {
            Thread.Sleep(100);
            var t = Volatile.Read(ref _enteredAt);
            if (t == 0) continue;
            var elapsed = Stopwatch.GetElapsedTime(t);
            if (elapsed < Limit) continue;
            Volatile.Write(ref _enteredAt, 0);
            OnStuck($"policy callback stuck: ops.{ScxCallbacks.OpName(_pendingCb)}() of {_pendingName ?? "the policy"} ran for {elapsed.TotalSeconds:F0} s without calling the BPF API; stopped (the BPF verifier would reject an unbounded loop)");
        }
    }
}
