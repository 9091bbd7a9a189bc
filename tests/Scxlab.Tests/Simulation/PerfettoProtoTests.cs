using Google.Protobuf;
using Scxlab.Kernel;
using Scxlab.Policies;
using Scxlab.Reporting;
using Scxlab.Simulation;

namespace Scxlab.Tests.Simulation;

/// <summary>
/// The native Perfetto trace, decoded back field by field (perfetto's field numbers): every packet is on
/// the writer's sequence, the process tree names every task, and on each CPU every sched_switch's prev is
/// the previous switch's next, with time never going back.
/// </summary>
public class PerfettoProtoTests
{
    private sealed record Switch(ulong Ts, int PrevPid, long PrevState, int NextPid, string NextComm);

    [Fact]
    public void Should_WriteConsistentSchedSwitchesPerCpu_When_ASimulationIsTracedAsProtobuf()
    {
        var path = Path.Combine(Path.GetTempPath(), $"scxlab-perfetto-{Guid.NewGuid():N}.pftrace");
        try
        {
            const int cpus = 4;
            var workload = Generators.Create("affinity-churn", cpus);
            using (var writer = new PerfettoProtoWriter(path))
            {
                new Simulator(workload, new SimOptions
                {
                    Cpus = cpus, DurationNs = 200_000_000, Seed = 1, Policy = PolicyRegistry.Resolve("local-on-peek"),
                    PolicyName = "local-on-peek", Protocol = Protocol.Upstream, Trace = writer,
                }).Run();
            }

            var switches = Enumerable.Range(0, cpus).Select(_ => new List<Switch>()).ToArray();
            var threads = new Dictionary<int, string>();
            int packets = 0, wakings = 0, wakeupNews = 0, trackEvents = 0;
            var input = new CodedInputStream(File.OpenRead(path));
            while (!input.IsAtEnd)
            {
                var tag = input.ReadTag();
                Assert.Equal(WireFormat.MakeTag(1, WireFormat.WireType.LengthDelimited), tag); // Trace.packet
                var packet = new CodedInputStream(input.ReadBytes().ToByteArray());
                packets++;
                uint seq = 0;
                while (!packet.IsAtEnd)
                {
                    var t = packet.ReadTag();
                    switch (WireFormat.GetTagFieldNumber(t))
                    {
                        case 10: seq = packet.ReadUInt32(); break;
                        case 2: ReadProcessTree(packet.ReadBytes(), threads); break;
                        case 1:
                            ReadBundle(packet.ReadBytes(), switches, ref wakings, ref wakeupNews);
                            break;
                        case 11: trackEvents++; packet.SkipLastField(); break;
                        default: packet.SkipLastField(); break;
                    }
                }
                Assert.Equal(PerfettoProtoWriter.SequenceId, seq);
            }
            input.Dispose();

            Assert.True(packets > 100, $"{packets} packets");
            Assert.True(threads.Count >= cpus, $"{threads.Count} threads in the process tree");
            Assert.True(wakeupNews > 0 && wakings > 0, $"{wakeupNews} sched_wakeup_new, {wakings} sched_waking");
            Assert.True(trackEvents > 0, "no track events (migrations, scheduler events)");
            for (var c = 0; c < cpus; c++)
            {
                var list = switches[c];
                Assert.True(list.Count > 0, $"no sched_switch on CPU {c}");
                var current = 0; // idle
                ulong last = 0;
                foreach (var s in list)
                {
                    Assert.True(s.Ts >= last, $"CPU {c}: time went back at {s.Ts}");
                    Assert.Equal(current, s.PrevPid);
                    Assert.True(s.NextPid == 0 || threads[s.NextPid] == s.NextComm, $"CPU {c}: next_comm {s.NextComm} for tid {s.NextPid}");
                    current = s.NextPid;
                    last = s.Ts;
                }
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    private static void ReadProcessTree(ByteString bytes, Dictionary<int, string> threads)
    {
        var tree = new CodedInputStream(bytes.ToByteArray());
        while (!tree.IsAtEnd)
        {
            var t = tree.ReadTag();
            if (WireFormat.GetTagFieldNumber(t) != 2) { tree.SkipLastField(); continue; }
            var th = new CodedInputStream(tree.ReadBytes().ToByteArray());
            int tid = 0, tgid = 0;
            var name = "";
            while (!th.IsAtEnd)
            {
                var f = th.ReadTag();
                switch (WireFormat.GetTagFieldNumber(f))
                {
                    case 1: tid = th.ReadInt32(); break;
                    case 2: name = th.ReadString(); break;
                    case 3: tgid = th.ReadInt32(); break;
                    default: th.SkipLastField(); break;
                }
            }
            Assert.Equal(PerfettoProtoWriter.ProcessPid, tgid);
            threads[tid] = name;
        }
    }

    private static void ReadBundle(ByteString bytes, List<Switch>[] switches, ref int wakings, ref int wakeupNews)
    {
        var bundle = new CodedInputStream(bytes.ToByteArray());
        var cpu = -1;
        var events = new List<ByteString>();
        while (!bundle.IsAtEnd)
        {
            var t = bundle.ReadTag();
            switch (WireFormat.GetTagFieldNumber(t))
            {
                case 1: cpu = (int)bundle.ReadUInt32(); break;
                case 2: events.Add(bundle.ReadBytes()); break;
                default: bundle.SkipLastField(); break;
            }
        }
        Assert.InRange(cpu, 0, switches.Length - 1);
        foreach (var e in events)
        {
            var ev = new CodedInputStream(e.ToByteArray());
            ulong ts = 0;
            while (!ev.IsAtEnd)
            {
                var t = ev.ReadTag();
                switch (WireFormat.GetTagFieldNumber(t))
                {
                    case 1: ts = ev.ReadUInt64(); break;
                    case 4: switches[cpu].Add(ReadSwitch(ts, ev.ReadBytes())); break;
                    case 20: wakings++; ev.SkipLastField(); break;
                    case 114: wakeupNews++; ev.SkipLastField(); break;
                    default: ev.SkipLastField(); break;
                }
            }
        }
    }

    private static Switch ReadSwitch(ulong ts, ByteString bytes)
    {
        var s = new CodedInputStream(bytes.ToByteArray());
        int prevPid = -1, nextPid = -1;
        long prevState = -1;
        var nextComm = "";
        while (!s.IsAtEnd)
        {
            var t = s.ReadTag();
            switch (WireFormat.GetTagFieldNumber(t))
            {
                case 2: prevPid = s.ReadInt32(); break;
                case 4: prevState = s.ReadInt64(); break;
                case 5: nextComm = s.ReadString(); break;
                case 6: nextPid = s.ReadInt32(); break;
                default: s.SkipLastField(); break;
            }
        }
        return new Switch(ts, prevPid, prevState, nextPid, nextComm);
    }

    [Fact]
    public void Should_WriteTheProtobufTrace_When_SimulateIsGivenPerfetto()
    {
        var dir = Directory.CreateTempSubdirectory("scxlab-pftrace-").FullName;
        try
        {
            var f = Path.Combine(dir, "t.pftrace");
            var r = Scxlab.Tests.Cli.CliResult.Run("simulate", "cpu-bound", "--cpus", "2", "--duration", "20ms", "--perfetto", f);
            Assert.Equal(0, r.ExitCode);
            var input = new CodedInputStream(File.ReadAllBytes(f));
            var packets = 0;
            while (!input.IsAtEnd)
            {
                Assert.Equal(WireFormat.MakeTag(1, WireFormat.WireType.LengthDelimited), input.ReadTag());
                input.ReadBytes();
                packets++;
            }
            Assert.True(packets >= 3, $"{packets} packets"); // the process tree, a track, and at least one sched_switch
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
