using System.Numerics;
using Scxlab.Stepping;

namespace Scxlab.Exploration;

/// <summary>
/// The sleep-set arithmetic the reduced searches share (Explorer.Dfs, ParallelDfsSearch): a frame keeps, for each actor
/// asleep or already tried there, the footprint of that actor's step from the frame's state.
/// </summary>
internal static class SleepSets
{
    /// <summary>
    /// The sleep set of the state a step with footprint <paramref name="step"/> reaches: the
    /// <paramref name="candidates"/> (the frame's sleeping and tried actors, less the one that stepped) whose step
    /// from the frame is independent of it (<paramref name="frame"/> holds their footprints, by actor).
    /// </summary>
    public static ulong Child(ulong candidates, ReadOnlySpan<Footprint> frame, in Footprint step)
    {
        var sleep = 0UL;
        while (candidates != 0)
        {
            var b = BitOperations.TrailingZeroCount(candidates);
            candidates &= candidates - 1;
            if (!frame[b].DependsOn(step)) sleep |= 1UL << b;
        }
        return sleep;
    }

    /// <summary>A new frame's sleeping actors keep the footprints they had in its parent frame (their steps commute with the one taken).</summary>
    public static void Inherit(ulong sleep, Span<Footprint> child, ReadOnlySpan<Footprint> parent)
    {
        while (sleep != 0)
        {
            var b = BitOperations.TrailingZeroCount(sleep);
            sleep &= sleep - 1;
            child[b] = parent[b];
        }
    }
}
