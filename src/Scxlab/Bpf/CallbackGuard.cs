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

    // Enter runs at every policy callback invocation (many per model step, as callbacks are replayed),
    // so it only bumps a counter: no clock read, no virtual call. The watcher samples the counter and
    // declares a callback stuck when it stayed inside the same invocation for Limit.
    private static long _epoch;
    private static int _inside;
    private static Machine? _pendingMachine;
    private static ScxCallback _pendingCb;

    internal static void Enter(Machine m, ScxCallback cb)
    {
        _pendingMachine = m;
        _pendingCb = cb;
        Volatile.Write(ref _epoch, _epoch + 1);
        Volatile.Write(ref _inside, 1);
        if (_watcher == null) StartWatcher();
    }

    internal static void Exit() => Volatile.Write(ref _inside, 0);

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
        var seen = -1L;
        var since = 0L;
        while (true)
        {
            Thread.Sleep(100);
            var epoch = Volatile.Read(ref _epoch);
            if (Volatile.Read(ref _inside) == 0 || epoch != seen)
            {
                seen = epoch;
                since = Stopwatch.GetTimestamp();
                continue;
            }
            var elapsed = Stopwatch.GetElapsedTime(since);
            if (elapsed < Limit) continue;
            seen = -1;
            string name;
            try { name = _pendingMachine?.Ops.Name ?? "the policy"; }
            catch (Exception) { name = "the policy"; }
            OnStuck($"policy callback stuck: ops.{ScxCallbacks.OpName(_pendingCb)}() of {name} ran for {elapsed.TotalSeconds:F0} s without calling the BPF API; stopped (the BPF verifier would reject an unbounded loop)");
        }
    }
}
