using Scxlab.Exploration;
using Scxlab.Fuzzing;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.Fuzzing;

/// <summary>Writing a scenario and reading it back gives the same model.</summary>
public class ScenarioYamlTests
{
    public static TheoryData<string> BuiltIns() => [.. ScenarioLoader.BuiltInNames()];

    [Theory]
    [MemberData(nameof(BuiltIns))]
    public void Should_ReadBackTheSameScenario_When_ABuiltInIsWrittenAsYaml(string name)
    {
        var s = ScenarioLoader.Resolve(name);
        var text = ScenarioYaml.Write(s, s.Policy, s.Protocol, s.Kernel);
        var back = ScenarioLoader.Parse(text, name + ".yaml");
        Assert.Equal(s.Cpus, back.Cpus);
        Assert.Equal(s.Policy, back.Policy);
        Assert.Equal(s.Protocol, back.Protocol);
        Assert.Equal(s.Kernel, back.Kernel);
        Assert.Equal(s.Tasks, back.Tasks);
        Assert.Equal(s.Rounds, back.Rounds);
        Assert.Equal(s.Checks, back.Checks);
        Assert.Equal(s.Actors.Select(a => (a.Name, a.Cpu)), back.Actors.Select(a => (a.Name, a.Cpu)));
        Assert.Equal(s.Actors.SelectMany(a => a.Actions), back.Actors.SelectMany(a => a.Actions));
        Assert.Equal(text, ScenarioYaml.Write(back, back.Policy, back.Protocol, back.Kernel));
    }

    [Fact]
    public void Should_ExploreTheSameStates_When_SeedRaceR2IsReadBackFromItsWrittenYaml()
    {
        var s = ScenarioLoader.Resolve("seed-race-r2");
        var back = ScenarioLoader.Parse(ScenarioYaml.Write(s, s.Policy, s.Protocol, s.Kernel), "r2.yaml");
        long States(Scenario x) => new Explorer(new Machine(x.ToConfig()), new ExploreOptions { Strategy = Strategy.Dfs }).Run().Stats.States;
        Assert.Equal(States(s), States(back));
    }

    [Fact]
    public void Should_QuoteNamesAndDescriptions_When_TheyCouldBeMisread()
    {
        var s = ScenarioLoader.Parse("""
            name: "odd: name"
            description: "two\nlines, a \"quote\" and # hash"
            cpus: 1
            policy: simple
            tasks:
              - { name: "true", allowed: [0], cpu: 0, state: queued }
            """, "odd.yaml");
        var back = ScenarioLoader.Parse(ScenarioYaml.Write(s, s.Policy, s.Protocol, s.Kernel), "odd2.yaml");
        Assert.Equal("odd: name", back.Name);
        Assert.Equal(s.Description, back.Description);
        Assert.Equal("true", back.Tasks[0].Name);
    }

    [Fact]
    public void Should_KeepEveryLoadItem_When_ABpfScenarioIsWrittenAsYaml()
    {
        // rodata, the struct_ops choice, map sizes, syscall runs, map contents (an array of maps' slot too) and the bounds
        // each go back under their own key.
        var s = ScenarioLoader.Parse("""
            name: bpf-items
            cpus: 2
            policy: x.bpf.o
            tasks:
              - { name: p, allowed: [0, 1], cpu: 0, state: queued }
            rodata: { nr_cpu_ids: 2 }
            ops: second_ops
            syscalls: ["enable_primary_cpu:cpu_id=0"]
            syscalls_attached: [prog_run]
            holds: [{ map: fifo }, { map: seen, key: pid }, { global: last_pid }]
            max_entries: { pair_ctx: 4 }
            maps:
              cpu_llc: { 0: 0, 1: 1 }
              topo: { 7: { cpu_id: 1, llc: { id: 3 }, ids: [4, 5] } }
              cgrp_q_arr: { 0: new }
            bounds: { bpf_timers: 9 }
            """, "items.yaml");
        var text = ScenarioYaml.Write(s, s.Policy, s.Protocol, s.Kernel);
        var back = ScenarioLoader.Parse(text, "items2.yaml");
        Assert.Equal(s.Rodata, back.Rodata);
        Assert.Contains("max_entries:pair_ctx=4", back.Rodata);
        Assert.Contains("map:cgrp_q_arr[0]=new", back.Rodata);
        Assert.Equal(9, back.BpfTimers);
        Assert.Contains("map:topo[7].llc.id=3", back.Rodata);
        Assert.Contains("map:topo[7].ids[1]=5", back.Rodata);
        Assert.Equal(text, ScenarioYaml.Write(back, back.Policy, back.Protocol, back.Kernel));
    }
}
