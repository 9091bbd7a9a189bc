using Scxlab.Kernel;

namespace Scxlab.Driving;

/// <summary>One step of a schedule: which actor moved, and what it narrated.</summary>
public sealed record StepRecord(int Index, int Actor, string ActorName, IReadOnlyList<string> Notes, IReadOnlyList<Finding> Findings);

/// <summary>
/// Runs the model along a given schedule (the actor that makes each next step). The explorer
/// and the simulator use the same <see cref="Machine.Step"/>; this driver is the simplest user,
/// for tests and for replaying traces.
/// </summary>
public sealed class ScheduleDriver : ITraceSink
{
    private readonly List<string> _notes = [];
    private int _noteActor = -1;

    public ScheduleDriver(Machine machine, bool narrate = true)
    {
        Machine = machine;
        if (narrate) Machine.Trace = this;
    }

    public Machine Machine { get; }
    public List<StepRecord> Steps { get; } = [];
    public List<Finding> Findings { get; } = [];

    void ITraceSink.Note(int actor, string text)
    {
        _noteActor = actor;
        _notes.Add(text);
    }

    public int ActorId(string name)
    {
        foreach (var a in Machine.Actors)
            if (string.Equals(a.Name, name, StringComparison.OrdinalIgnoreCase)) return a.Id;
        throw new ArgumentException($"no actor named '{name}' (actors: {string.Join(", ", Machine.Actors.Select(a => a.Name))})");
    }

    /// <summary>One step of <paramref name="actor"/>; throws if it is not enabled (a wrong schedule is a test bug).</summary>
    public StepRecord Step(int actor)
    {
        if (!Machine.IsEnabled(actor)) throw new InvalidOperationException($"step {Steps.Count}: {Machine.Actor(actor).Name} is not enabled");
        _notes.Clear();
        Machine.Step(actor);
        var rec = new StepRecord(Steps.Count, actor, Machine.Actor(actor).Name, [.. _notes], [.. Machine.StepFindings]);
        Findings.AddRange(Machine.StepFindings);
        Steps.Add(rec);
        return rec;
    }

    public StepRecord Step(string actor) => Step(ActorId(actor));

    /// <summary>Step <paramref name="actor"/> until its current activity (top-level path) has finished.</summary>
    public void Finish(string actor)
    {
        var a = ActorId(actor);
        if (Machine.World.Actors[a].Depth == 0) Step(a);
        while (Machine.World.Actors[a].Depth > 0) Step(a);
    }

    /// <summary>Step <paramref name="actor"/> until <paramref name="until"/> holds (checked after each step).</summary>
    public void StepUntil(string actor, Func<Machine, bool> until, int max = 10_000)
    {
        var a = ActorId(actor);
        for (var i = 0; i < max; i++)
        {
            if (until(Machine)) return;
            Step(a);
        }
        throw new InvalidOperationException($"{actor}: condition not reached within {max} steps");
    }

    /// <summary>Run every enabled actor round-robin (lowest id first) until none is enabled.</summary>
    public void RunToQuiescence(int max = 1_000_000)
    {
        for (var i = 0; i < max; i++)
        {
            var any = false;
            for (var a = 0; a < Machine.ActorCount; a++)
            {
                if (!Machine.IsEnabled(a)) continue;
                Step(a);
                any = true;
                break;
            }
            if (!any) return;
        }
        throw new InvalidOperationException($"no quiescence within {max} steps");
    }
}
