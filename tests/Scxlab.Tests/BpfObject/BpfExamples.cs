using System.Diagnostics;

namespace Scxlab.Tests.BpfObject;

/// <summary>Builds examples/bpf (examples/bpf/build.sh, clang-19) once per test run and finds the objects and sources.</summary>
public static class BpfExamples
{
    private static readonly Lazy<string> Built = new(Build);

    public static string Root()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d != null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Scxlab.slnx"))) return d.FullName;
        throw new InvalidOperationException("repository root (Scxlab.slnx) not found above " + AppContext.BaseDirectory);
    }

    /// <summary>examples/bpf/out/NAME.bpf.o, built if needed.</summary>
    public static string Object(string name) => Path.Combine(Built.Value, name + ".bpf.o");

    /// <summary>Compile one C source (a test's own bad program) with the examples' flags and header; returns the object path.</summary>
    public static string Compile(string name, string source, string cpu = "v3")
    {
        _ = Built.Value;
        var dir = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests");
        Directory.CreateDirectory(dir);
        var src = Path.Combine(dir, name + ".bpf.c");
        var obj = Path.Combine(dir, name + ".bpf.o");
        File.WriteAllText(src, source);
        // The test programs' own headers (programs/*.h) after the examples' header directory.
        var programs = Path.Combine(Root(), "tests", "Scxlab.Tests", "BpfObject", "programs");
        Run("clang-19", $"-g -O2 -target bpf -mcpu={cpu} -I{Path.Combine(Root(), "examples", "bpf", "include")} -I{programs} -c {src} -o {obj}");
        return obj;
    }

    /// <summary>
    /// The configuration of a BPF object's C# twin — or of any test policy on a scenario's machine: the same machine,
    /// tasks, scripts, bounds and granularity, with <paramref name="twin"/> as the policy.
    /// </summary>
    public static Scxlab.Kernel.ModelConfig TwinConfig(Scxlab.Kernel.ModelConfig bpf, Func<Scxlab.Bpf.ScxOps> twin, string name) => new()
    {
        CpuCount = bpf.CpuCount,
        Tasks = bpf.Tasks,
        PolicyFactory = twin,
        PolicyName = name,
        Protocol = bpf.Protocol,
        Kernel = bpf.Kernel,
        Rounds = bpf.Rounds,
        Scripts = bpf.Scripts,
        TimerFires = bpf.TimerFires,
        MaxUserDsqs = bpf.MaxUserDsqs,
        CallBudget = bpf.CallBudget,
        Granularity = bpf.Granularity,
    };

    /// <summary>A test program kept in tests/Scxlab.Tests/BpfObject/programs.</summary>
    /// <summary>Explore seed-race-r1 (two CPUs, one task, an affinity change) with <paramref name="policy"/> (a BPF object spec), its checks on.</summary>
    public static Scxlab.Exploration.ExploreResult ExploreSeedRace(string policy)
    {
        var s = Scxlab.Scenarios.ScenarioLoader.Resolve("seed-race-r1");
        return new Scxlab.Exploration.Explorer(new Scxlab.Kernel.Machine(s.ToConfig(policy)), new Scxlab.Exploration.ExploreOptions { Checks = s.Checks }).Run();
    }

    public static string CompileProgram(string file, string cpu) =>
        Compile(Path.GetFileNameWithoutExtension(Path.GetFileNameWithoutExtension(file)) + "-" + cpu,
            File.ReadAllText(Path.Combine(Root(), "tests", "Scxlab.Tests", "BpfObject", "programs", file)), cpu);

    /// <summary>
    /// Test programs compiled and statically linked into one object with <c>bpftool gen object</c> (as scx links its
    /// BPF library into a scheduler); returns the linked object's path.
    /// </summary>
    public static string LinkPrograms(string name, params string[] files)
    {
        var objs = files.Select(f => CompileProgram(f, "v3")).ToArray();
        var linked = Path.Combine(Path.GetTempPath(), "scxlab-bpf-tests", name + ".bpf.o");
        var bpftool = File.Exists("/usr/sbin/bpftool") ? "/usr/sbin/bpftool" : "bpftool";
        Run(bpftool, $"gen object {linked} {string.Join(' ', objs)}");
        return linked;
    }

    private static string Build()
    {
        var script = Path.Combine(Root(), "examples", "bpf", "build.sh");
        Run("/bin/sh", script);
        return Path.Combine(Root(), "examples", "bpf", "out");
    }

    private static void Run(string file, string args)
    {
        var psi = new ProcessStartInfo(file, args) { RedirectStandardError = true, RedirectStandardOutput = true };
        using var p = Process.Start(psi)!;
        var err = p.StandardError.ReadToEnd();
        p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0) throw new InvalidOperationException($"{file} {args} failed ({p.ExitCode}): {err}");
    }
}
