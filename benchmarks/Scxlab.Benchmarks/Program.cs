using BenchmarkDotNet.Running;

namespace Scxlab.Benchmarks;

public static class Program
{
    /// <summary>
    /// <c>dotnet run -c Release --project benchmarks/Scxlab.Benchmarks -- --filter '*'</c>
    /// (add <c>--job short</c> for a quick run). Results go to BenchmarkDotNet.Artifacts/.
    /// <c>-- alloc</c> prints the bytes each step of the R2 replay allocates instead.
    /// </summary>
    public static void Main(string[] args)
    {
        if (args is ["alloc"])
        {
            AllocationProfile.Run(Console.Out);
            return;
        }
        BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
    }
}
