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

    [Fact]
    public void Should_ComputeWhatTheKernelsCpumaskKfuncsReturn_When_TheMachineHasMoreThan64Cpus()
    {
        // ops.init: {0, 64, 129} (130 ignored) weight 3; without 0 → first 64, first_zero 0; test_and_set(100) 0 then 1;
        // a copy of the 130 online CPUs: weight 130, full; {64, 100, 129} ⊂ online, not equal; online ^ it: first zero
        // 64, disjoint from it; the rotor of ops.init's CPU past 0 → 64; setall without 127 → first zero 127; clear →
        // empty; the global mask {65} | {64, 100, 129}: weight 4, first in common 64.
        // ops.enqueue of p on {3, 70, 129}: weight 3, meets the domain; domain ∩ p = {129}; an idle CPU of the domain
        // (every CPU but 0 is idle): the model enables p from the CPU that ran ops.init, whose rotor ops.init's pick
        // left at 64, so 100; 120 idle; first of p in the domain 129.
        var r = Fuzz(130, 4);
        Assert.Empty(r.ModelLimits);
        var exit = Assert.Single(r.Findings).Violation.ToString();
        Assert.Equal("scheduler exit SCX_EXIT_UNREG_BPF: weight=3 first_zero=64000 tas=1 online=1301 sub_eq=10 xor=640 any=64 setall=127 empty=1 in_data=4064 p=31 and=1129 pick=100 idle=1201 p_and=129",
            exit);
    }
}
