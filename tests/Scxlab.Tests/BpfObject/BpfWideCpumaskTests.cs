using CsCheck;
using Scxlab.Fuzzing;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/wide_cpumask.bpf.c on 130 CPUs: the cpumask kfuncs past the first 64 CPUs, where a mask is three unsigned
/// longs (the last partial). Until the fifteenth session every one of them stopped a machine of more than 64 CPUs at
/// "cpumasks are modelled for up to 64 CPUs", so no BPF scheduler that keeps a bpf_cpumask could be fuzzed at 128 or
/// 256 CPUs. check explores at most 63 actors, so these runs are fuzz schedules (every schedule reaches the exit).
/// </summary>
public class BpfWideCpumaskTests
{
    private static string Scenario(int cpus) => $$"""
        name: wide-cpumask
        cpus: {{cpus}}
        policy: simple
        tasks:
          - { name: p, allowed: [3, 70, 129], cpu: 3, state: queued }
          - { name: q, allowed: [{{string.Join(", ", Enumerable.Range(0, 8))}}], cpu: 0, state: running }
        rounds:
          - { cpu: 3, count: 1 }
        check: [all]
        """;

    private static FuzzResult Fuzz(int cpus, int runs)
    {
        var s = ScenarioLoader.Parse(Scenario(cpus), "wide-cpumask.yaml");
        var config = s.ToConfig(BpfExamples.CompileProgram("wide_cpumask.bpf.c", "v3"));
        return new Fuzzer(config, new FuzzOptions { Runs = runs, Jobs = 1, Checks = s.Checks }).Run();
    }

    [Theory]
    // ops.init: {0, 64, 129} (130 past nr_cpu_ids, ignored) weight 3; without 0 → first 64, first_zero 0;
    // test_and_set(100) 0 then 1; a copy of the 130 online CPUs: weight 130, full; {64, 100, 129} ⊂ online, not equal;
    // online ^ it: first zero 64, disjoint from it; the rotor of ops.init's CPU past 0 → 64; setall without 127 → first
    // zero 127; clear → empty; the global mask {65} | {64, 100, 129}: weight 4, first in common 64.
    // ops.enqueue of p on {3, 70, 129}: weight 3, meets the domain; domain ∩ p = {129}; an idle CPU of the domain
    // (every CPU but 0 is idle): the model enables p from the CPU that ran ops.init, whose rotor ops.init's pick left
    // at 64, so 100; 120 idle; first of p in the domain 129.
    [InlineData(130, "weight=3 first_zero=64000 tas=1 online=1301 sub_eq=10 xor=640 any=64 setall=127 empty=1 in_data=4064 p=31 and=1129 pick=100 idle=1201 p_and=129")]
    // Four whole words: CPU 130 is a CPU now (weight 4, the global mask 5), and 256 are online.
    [InlineData(256, "weight=4 first_zero=64000 tas=1 online=2561 sub_eq=10 xor=640 any=64 setall=127 empty=1 in_data=5064 p=31 and=1129 pick=100 idle=1201 p_and=129")]
    public void Should_ComputeWhatTheKernelsCpumaskKfuncsReturn_When_TheMachineHasMoreThan64Cpus(int cpus, string expected)
    {
        var r = Fuzz(cpus, 4);
        Assert.Empty(r.ModelLimits);
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: " + expected, Assert.Single(r.Findings).Violation.ToString());
    }
}

/// <summary>
/// programs/cpumask_tape.bpf.c: random tapes of cpumask kfunc calls on machines of 1 to 256 CPUs, the interpreter's
/// answers against a C# reference written from the kernel's definitions (cpumask.c's kfuncs over nr_cpu_ids bits).
/// Two independent ways to the same hash: a word-order, stride or partial-word slip in either shows up.
/// </summary>
public class BpfCpumaskTapeTests
{
    private const int Tape = 48;

    private static readonly Lazy<string> Object = new(() => BpfExamples.CompileProgram("cpumask_tape.bpf.c", "v3"));

    private static string Scenario(int cpus) => $$"""
        name: cpumask-tape
        cpus: {{cpus}}
        policy: simple
        tasks:
          - { name: p, allowed: [0], cpu: 0, state: queued }
        rounds:
          - { cpu: 0, count: 1 }
        check: [all]
        bounds: { call_budget: 20000 }
        """;

    /// <summary>One instruction of the tape: op, destination mask, two sources (4 = the online mask), a CPU.</summary>
    public sealed record Insn(int Op, int Dst, int Src1, int Src2, int Cpu)
    {
        public uint Encode() => (uint)(Op << 24 | Dst << 20 | Src1 << 16 | Src2 << 12 | Cpu);
        public override string ToString() => $"op{Op} d{Dst} s{Src1},{Src2} cpu{Cpu}";
    }

    private static readonly Gen<(int Cpus, Insn[] Tape)> Cases =
        from cpus in Gen.OneOf(Gen.Int[1, 256], Gen.Int[62, 66], Gen.Int[126, 130], Gen.Int[250, 256])
        from tape in Gen.Select(Gen.Int[0, 20], Gen.Int[0, 3], Gen.Int[0, 4], Gen.Int[0, 4], Gen.OneOf(Gen.Int[0, 259], Gen.Int[cpus - 2, cpus + 1].Where(c => c >= 0)))
            .Select(t => new Insn(t.Item1, t.Item2, t.Item3, t.Item4, t.Item5)).Array[1, Tape]
        select (cpus, tape);

    /// <summary>What the kernel's kfuncs give for the tape on <paramref name="n"/> CPUs, from ops.init's CPU (its rotor at 0).</summary>
    private static ulong Reference(int n, Insn[] tape)
    {
        var m = new bool[4][];
        for (var i = 0; i < 4; i++) m[i] = new bool[n];
        var online = Enumerable.Repeat(true, n).ToArray();
        bool[] Src(int s) => s >= 4 ? online : m[s];
        int First(Func<int, bool> f) { for (var c = 0; c < n; c++) if (f(c)) return c; return n; }
        var rotor = 0;
        ulong h = 7;
        foreach (var t in tape)
        {
            var d = m[t.Dst];
            var (a, b) = (Src(t.Src1), Src(t.Src2));
            var valid = t.Cpu < n;
            ulong v = 0;
            switch (t.Op)
            {
                case 0: if (valid) d[t.Cpu] = true; break;
                case 1: if (valid) d[t.Cpu] = false; break;
                case 2: if (valid) { v = d[t.Cpu] ? 1UL : 0; d[t.Cpu] = true; } break;
                case 3: if (valid) { v = d[t.Cpu] ? 1UL : 0; d[t.Cpu] = false; } break;
                case 4: Array.Fill(d, true); break;
                case 5: Array.Fill(d, false); break;
                case 6 or 7 or 8:
                {
                    var r = new bool[n];
                    for (var c = 0; c < n; c++) r[c] = t.Op == 6 ? a[c] && b[c] : t.Op == 7 ? a[c] || b[c] : a[c] ^ b[c];
                    r.CopyTo(d, 0);
                    if (t.Op == 6) v = r.Any(x => x) ? 1UL : 0;
                    break;
                }
                case 9: a.ToArray().CopyTo(d, 0); break;
                case 10: v = (ulong)First(c => a[c]); break;
                case 11: v = (ulong)First(c => !a[c]); break;
                case 12: v = (ulong)First(c => a[c] && b[c]); break;
                case 13: v = (ulong)a.Count(x => x); break;
                case 14: v = a.Any(x => x) ? 0UL : 1; break;
                case 15: v = a.All(x => x) ? 1UL : 0; break;
                case 16: v = Enumerable.Range(0, n).Any(c => a[c] && b[c]) ? 1UL : 0; break;
                case 17: v = Enumerable.Range(0, n).All(c => !a[c] || b[c]) ? 1UL : 0; break;
                case 18: v = Enumerable.Range(0, n).All(c => a[c] == b[c]) ? 1UL : 0; break;
                case 19: v = valid && a[t.Cpu] ? 1UL : 0; break;
                default:
                {
                    // cpumask_any_distribute(): the next set CPU after the rotor, wrapping (the rotor's own CPU last).
                    v = (ulong)n;
                    for (var step = 1; step <= n; step++)
                    {
                        var c = (rotor + step) % n;
                        if (!a[c]) continue;
                        rotor = c;
                        v = (ulong)c;
                        break;
                    }
                    break;
                }
            }
            h = unchecked(h * 1000003 + v);
        }
        return h;
    }

    [Fact]
    public void Should_AgreeWithTheKernelsDefinitions_When_RandomTapesOfCpumaskKfuncsRunOnMachinesOfEverySize()
    {
        var obj = Object.Value;
        Cases.Sample(c =>
        {
            var s = ScenarioLoader.Parse(Scenario(c.Cpus), "cpumask-tape.yaml");
            var rodata = string.Join(",", c.Tape.Select((t, i) => $"tape[{i}]={t.Encode()}").Append($"tape_len={c.Tape.Length}"));
            var r = new Fuzzer(s.ToConfig(obj + "@" + rodata), new FuzzOptions { Runs = 1, Jobs = 1, Checks = s.Checks }).Run();
            Assert.Empty(r.ModelLimits);
            Assert.Equal($"scheduler exit SCX_EXIT_UNREG_BPF: hash={Reference(c.Cpus, c.Tape)} ops={c.Tape.Length}", Assert.Single(r.Findings).Violation.ToString());
        }, iter: 150, threads: 1, print: c => $"{c.Cpus} CPUs: {string.Join("; ", c.Tape.Select(t => t.ToString()))}");
    }
}
