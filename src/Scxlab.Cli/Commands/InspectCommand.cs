using System.CommandLine;
using Scxlab.Bpf;
using Scxlab.BpfObject;

namespace Scxlab.Cli.Commands;

/// <summary>
/// <c>scxlab inspect X.bpf.o [--rodata NAME=VALUE]...</c>: what a BPF object contains and what of it
/// the model supports: the sched_ext_ops struct_ops map and its callbacks, programs, maps, global
/// data (rodata with its values), and every kfunc and helper it calls.
/// </summary>
public static class InspectCommand
{
    internal static ScxCommand Create()
    {
        var objectArg = new Argument<string>("X.bpf.o") { Description = "an object built with clang -target bpf" };
        var rodata = CliOptions.Rodata();
        var mapOpt = CliOptions.Map();
        var maxEntries = CliOptions.MaxEntries();
        var syscall = CliOptions.Syscall();
        var ops = CliOptions.Ops();
        var cmd = new ScxCommand("inspect", "List what a BPF object (.bpf.o) contains: struct_ops callbacks, programs, maps, rodata, and every kfunc and helper it calls with whether the model supports it.")
        {
            Examples =
            [
                "scxlab inspect examples/bpf/out/central.bpf.o",
                "scxlab inspect examples/bpf/out/simple.bpf.o --rodata fifo_sched=1",
            ],
        };
        cmd.Arguments.Add(objectArg);
        cmd.Options.Add(rodata);
        cmd.Options.Add(mapOpt);
        cmd.Options.Add(maxEntries);
        cmd.Options.Add(syscall);
        cmd.Options.Add(ops);
        cmd.SetAction(r => Execute(r.GetValue(objectArg)!, CliOptions.LoadItems(r.GetValue(rodata), r.GetValue(syscall), ops: r.GetValue(ops), maps: r.GetValue(mapOpt), maxEntries: r.GetValue(maxEntries)), r.InvocationConfiguration.Output, r.InvocationConfiguration.Error));
        return cmd;
    }

    /// <summary>The command line as <c>scxlab inspect ARGS</c> would run it (for tests and embedding).</summary>
    public static int Run(string[] args, TextWriter stdout, TextWriter stderr) => Program.Run(["inspect", .. args], stdout, stderr);

    private static int Execute(string path, string[] rodata, TextWriter stdout, TextWriter stderr)
    {
        if (!File.Exists(path))
        {
            stderr.WriteLine($"scxlab inspect: BPF object not found: {path}");
            return ExitCodes.BadInput;
        }
        BpfObjectFile o;
        try
        {
            o = BpfObjectFile.Load(path, rodata, lenient: true);
        }
        catch (BpfLoadException e)
        {
            stderr.WriteLine($"scxlab inspect: {e.Message}");
            return ExitCodes.BadInput;
        }
        // Whether it loads is what a strict load says: a strong extern the model lacks, or a poisoned
        // instruction (a failed CO-RE relocation, a helper or weak kfunc the model lacks) a program can reach.
        string loads;
        try
        {
            BpfObjectFile.Load(path, rodata);
            loads = "yes";
        }
        catch (BpfLoadException e)
        {
            var prefix = Path.GetFileName(path) + ": ";
            loads = "no: " + (e.Message.StartsWith(prefix, StringComparison.Ordinal) ? e.Message[prefix.Length..] : e.Message);
        }
        Write(o, loads, stdout);
        return ExitCodes.Ok;
    }

    private static void Write(BpfObjectFile o, string loads, TextWriter w)
    {
        w.WriteLine($"object     {o.Path}");
        w.WriteLine($"sha256     {o.Sha256}");
        w.WriteLine($"license    {(o.License.Length > 0 ? o.License : "(none)")}");
        w.WriteLine($"loads      {loads}");
        if (o.LoadIssues.Count > 0)
        {
            // Everything a strict load refuses besides kfuncs and helpers (listed below), so one run shows them all.
            w.WriteLine("not supported by the model (listed anyway):");
            foreach (var issue in o.LoadIssues.Distinct()) w.WriteLine($"  {issue}");
        }
        w.WriteLine();
        var ops = o.Ops;
        w.WriteLine($"struct_ops {ops.MapName}: name \"{ops.Name}\", flags 0x{ops.Flags:x}, timeout_ms {ops.TimeoutMs}, dispatch_max_batch {ops.DispatchMaxBatch}");
        if (o.OpsMaps.Count > 1)
            w.WriteLine($"  (one of {o.OpsMaps.Count} sched_ext_ops maps: {string.Join(", ", o.OpsMaps)}; --ops NAME chooses)");
        foreach (var (cb, prog) in ops.Callbacks.OrderBy(c => c.Key))
            w.WriteLine($"  ops.{ScxCallbacks.OpName(cb),-12} {prog.Name} ({prog.Section})");
        if (ops.CgroupInit is { } ci) w.WriteLine($"  ops.{"cgroup_init",-12} {ci.Name} ({ci.Section}; run for the root cgroup, the model's one, right after ops.init)");
        var before = ops.CgroupInit != null ? "ops.init and ops.cgroup_init" : "ops.init";
        if (ops.InitTask is { } it) w.WriteLine($"  ops.{"init_task",-12} {it.Name} ({it.Section}; run for every task right after {before})");
        if (ops.Enable is { } en) w.WriteLine($"  ops.{"enable",-12} {en.Name} ({en.Section}; run for every task right after {before}{(ops.InitTask != null ? " and ops.init_task" : "")})");
        if (ops.ExitTask is { } et) w.WriteLine($"  ops.{"exit_task",-12} {et.Name} ({et.Section}; runs when a task dies: sched_ext_dead())");
        if (ops.Disable is { } di) w.WriteLine($"  ops.{"disable",-12} {di.Name} ({di.Section}; runs when a task dies: sched_ext_dead())");
        foreach (var (member, prog, why) in ops.NeverCalled) w.WriteLine($"  ops.{member,-12} {prog.Name} ({prog.Section}; never called: {why})");
        w.WriteLine();
        w.WriteLine("programs");
        foreach (var p in o.Programs) w.WriteLine($"  {p.Name,-32} {p.Section}");
        w.WriteLine();
        w.WriteLine("maps");
        if (o.Maps.Count == 0) w.WriteLine("  (none)");
        foreach (var m in o.Maps)
            w.WriteLine($"  {m.Name,-24} {MapTypes.Name(m.Type),-28} key {m.KeySize} value {m.ValueSize} max_entries {m.MaxEntries}{(m.Flags != 0 ? $" map_flags 0x{m.Flags:x}" : "")}"
                + (m.TimerOffsets is { Count: > 0 } t ? $"; {t.Count} struct bpf_timer per value: {t.Count * m.MaxEntries} timer actor(s)" : "")
                + (m.InnerMaps is { } inner ? $"; slots: {string.Join(", ", inner.Select(i => i < 0 ? "(empty)" : o.Maps[i].Name))}" : "")
                + (m.Type == MapTypes.Arena ? $"; user address 0x{o.ArenaUserStart:x}{(m.MapExtra == 0 ? " (map_extra 0: the model's choice)" : "")}"
                    + (o.ArenaGlobals.Length > 0 ? $", __arena globals in its last {o.ArenaGlobals.Length / ArenaShape.PageSize} page(s) from offset 0x{o.ArenaGlobalOffset:x}" : "") : ""));
        w.WriteLine();
        w.WriteLine("global data");
        foreach (var g in o.Globals)
        {
            w.WriteLine($"  {g.Name,-24} {g.Init.Length} bytes, {(g.ReadOnly ? "constant after load" : "shared (each access an interleaving point)")}");
            if (!g.ReadOnly) continue;
            foreach (var (name, (off, size)) in g.Vars.OrderBy(v => v.Value.Offset))
                w.WriteLine($"    {name} = {Value(g.Init, off, size)}");
        }
        w.WriteLine();
        w.WriteLine("kfuncs");
        foreach (var k in o.KfuncsUsed)
            w.WriteLine($"  {k,-40} {(Kfuncs.Supported(k) ? "supported" : Kfuncs.KernelOnly.Contains(k) ? "not modelled (loads; a run that calls it stops there: incomplete)" : "NOT SUPPORTED")}");
        w.WriteLine("helpers");
        foreach (var h in o.HelpersUsed) w.WriteLine($"  {Helpers.Name(h) + "#" + h,-40} {(Helpers.Supported(h) ? "supported" : "NOT SUPPORTED")}");
    }

    private static string Value(byte[] b, int off, int size)
    {
        if (size is 1 or 2 or 4 or 8)
        {
            ulong v = 0;
            for (var i = 0; i < size; i++) v |= (ulong)b[off + i] << (8 * i);
            return v.ToString();
        }
        return $"[{size} bytes] {Convert.ToHexStringLower(b, off, Math.Min(size, 32))}{(size > 32 ? "…" : "")}";
    }
}
