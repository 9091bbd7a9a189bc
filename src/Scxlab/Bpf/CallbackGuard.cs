using System.Diagnostics;
using System.Runtime.InteropServices;
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

    // Enter runs at every policy callback invocation (many per model step, as callbacks are replayed), so it only
    // bumps a counter in its machine's own slot: no clock read, no virtual call, and nothing another thread writes
    // (the parallel search's workers each run a machine; one shared counter was a cache line both cores fought over
    // on every callback, and the epoch one worker advanced hid the other's stuck callback). The watcher samples each
    // slot and declares a callback stuck when its machine stayed inside the same invocation for Limit.

    /// <summary>One machine's guard state: written by the thread running the machine, read by the watcher.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 192)]
    internal sealed class Slot
    {
        // The runner's fields on a line of their own (past the object header), the watcher's on the next.
        [FieldOffset(64)] public long Epoch;
        [FieldOffset(72)] public int Inside;
        [FieldOffset(76)] public ScxCallback Cb;
        [FieldOffset(80)] public bool Registered;
        [FieldOffset(128)] public long SeenEpoch = -1;
        [FieldOffset(136)] public long Since;
        [FieldOffset(144)] public WeakReference<Machine>? Machine;
    }

    private static readonly List<Slot> Slots = [];

    internal static void Enter(Machine m, ScxCallback cb)
    {
        var s = m.Guard;
        s.Cb = cb;
        Volatile.Write(ref s.Epoch, s.Epoch + 1);
        Volatile.Write(ref s.Inside, 1);
        if (!s.Registered) Register(m, s);
    }

    internal static void Exit(Machine m) => Volatile.Write(ref m.Guard.Inside, 0);

    private static void Register(Machine m, Slot s)
    {
        lock (Gate)
        {
            s.Machine = new WeakReference<Machine>(m);
            s.Registered = true;
            Slots.Add(s);
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
            List<string> stuck = [];
            lock (Gate)
            {
                // A machine that is gone cannot be stuck: forget its slot.
                Slots.RemoveAll(s => s.Machine == null || !s.Machine.TryGetTarget(out _));
                foreach (var s in Slots)
                    if (Sample(s) is { } message) stuck.Add(message);
            }
            foreach (var message in stuck) OnStuck(message);
        }
    }

    /// <summary>The stuck message for <paramref name="s"/>'s machine, or null.</summary>
    private static string? Sample(Slot s)
    {
        var epoch = Volatile.Read(ref s.Epoch);
        if (Volatile.Read(ref s.Inside) == 0 || epoch != s.SeenEpoch)
        {
            s.SeenEpoch = epoch;
            s.Since = Stopwatch.GetTimestamp();
            return null;
        }
        var elapsed = Stopwatch.GetElapsedTime(s.Since);
        if (elapsed < Limit) return null;
        s.SeenEpoch = -1;
        string name;
        try { name = s.Machine != null && s.Machine.TryGetTarget(out var m) ? m.Ops.Name : "the policy"; }
        catch (Exception) { name = "the policy"; }
        return $"policy callback stuck: ops.{ScxCallbacks.OpName(s.Cb)}() of {name} ran for {elapsed.TotalSeconds:F0} s without calling the BPF API; stopped (the BPF verifier would reject an unbounded loop)";
    }
}
