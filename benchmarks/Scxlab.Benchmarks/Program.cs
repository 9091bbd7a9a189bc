using BenchmarkDotNet.Running;
using Scxlab.Benchmarks;

if (args.Length > 0 && args[0] == "sim-scale") return SimulationScale.Run(args[1..]);
BenchmarkSwitcher.FromAssembly(typeof(SimulationBenchmarks).Assembly).Run(args);
return 0;
