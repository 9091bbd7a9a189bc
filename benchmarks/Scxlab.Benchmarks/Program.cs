using BenchmarkDotNet.Running;

namespace Scxlab.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- --filter '*'</c>
    /// (add <c>--job short</c> for a quick run). Results go to BenchmarkDotNet.Artifacts/.
    /// <c>-- alloc</c> prints the bytes each step of the R2 replay allocates instead;
    /// <c>-- world [SCENARIO]</c> what each component of a world costs a copy and a fingerprint;
    /// <c>-- alloc-fuzz [SCENARIO] [RUNS]</c> the bytes a fuzz walk allocates per step;
    /// <c>-- sim-scale CPUS TASKS SECONDS</c> times one large simulation run.
    /// </summary>
    public static int Main(string[] args)
    {
        if (args is ["alloc"])
        {
            AllocationProfile.Run(Console.Out);
            return 0;
        }
        if (args.Length > 0 && args[0] == "world")
        {
            WorldLayout.Run(Console.Out, args.Length > 1 ? args[1] : "scale-4cpu");
            return 0;
        }
        if (args.Length > 0 && args[0] == "alloc-fuzz")
        {
            FuzzAllocationProfile.Run(Console.Out, args.Length > 1 ? args[1] : "churn-8cpu", args.Length > 2 ? int.Parse(args[2]) : 2000);
            return 0;
        }
        if (args.Length > 0 && args[0] == "sim-scale") return SimulationScale.Run(args[1..]);
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return 0;
    }
}
