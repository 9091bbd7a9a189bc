using Google.Protobuf;
using Scxlab.Simulation;

namespace Scxlab.Reporting;

/// <summary>
/// Streams a simulation as a native Perfetto trace (the <c>perfetto.protos.Trace</c> protobuf that
/// <c>traced</c> writes), so ui.perfetto.dev shows its CPU scheduling view and thread states exactly as for
/// a kernel trace: ftrace <c>sched_switch</c>, <c>sched_waking</c> and <c>sched_wakeup_new</c> per CPU, a
/// process tree naming every task, and track events for what ftrace has no event for (migrations, scheduler
/// exits, kernel assertions, dropped dispatches, re-enqueues, fallback-DSQ uses).
/// </summary>
/// <remarks>
/// <para>Only the fields used are encoded, by number, with Google.Protobuf's <see cref="CodedOutputStream"/>
/// (no generated code): the numbers are those of perfetto's protos/perfetto/trace (trace_packet.proto,
/// ftrace/ftrace_event.proto, ftrace/sched.proto, ps/process_tree.proto, track_event/*.proto).</para>
/// <para>A trace file is a sequence of <c>Trace.packet</c> fields (number 1), each a whole TracePacket, written
/// as the events happen: a run cut short leaves every packet written so far readable.</para>
/// <para>Tasks are threads of one process (pid 1, "scxlab"): tid = 2 + the task's index, since the
/// simulator's tasks carry names, not kernel pids. pid 0 is the idle task (<c>swapper/N</c>).</para>
/// </remarks>
public sealed class PerfettoProtoWriter : ITraceFileWriter
{
    // TracePacket
    private const int PacketTimestamp = 8, PacketSequenceId = 10, PacketFtraceEvents = 1, PacketProcessTree = 2,
        PacketTrackEvent = 11, PacketTrackDescriptor = 60, PacketSequenceFlags = 13;
    // FtraceEventBundle / FtraceEvent
    private const int BundleCpu = 1, BundleEvent = 2, EventTimestamp = 1, EventPid = 2,
        EventSchedSwitch = 4, EventSchedWaking = 20, EventSchedWakeupNew = 114;
    // SchedSwitchFtraceEvent
    private const int SwPrevComm = 1, SwPrevPid = 2, SwPrevPrio = 3, SwPrevState = 4, SwNextComm = 5, SwNextPid = 6, SwNextPrio = 7;
    // SchedWakingFtraceEvent / SchedWakeupNewFtraceEvent
    private const int WkComm = 1, WkPid = 2, WkPrio = 3, WkSuccess = 4, WkTargetCpu = 5;
    // ProcessTree
    private const int TreeProcesses = 1, TreeThreads = 2, ProcPid = 1, ProcPpid = 2, ProcCmdline = 3, ThreadTid = 1, ThreadName = 2, ThreadTgid = 3;
    // TrackDescriptor / TrackEvent
    private const int TrackUuid = 1, TrackName = 2, EvType = 9, EvTrackUuid = 11, EvName = 23, EvCategories = 22;
    private const int TypeInstant = 3;

    /// <summary>The trusted sequence id of every packet (one writer, one sequence).</summary>
    public const uint SequenceId = 1;
    public const int ProcessPid = 1;
    /// <summary>SCHED_OTHER's default prio (nice 0) as ftrace prints it.</summary>
    private const int Prio = 120;
    /// <summary>prev_state values as sched_switch reports them: TASK_RUNNING (preempted) and TASK_INTERRUPTIBLE (blocked).</summary>
    public const long StateRunnable = 0, StateSleeping = 1;
    private const ulong GlobalTrack = 1;
    private static ulong CpuTrack(int cpu) => 100 + (ulong)cpu;

    private readonly FileStream _file;
    private readonly CodedOutputStream _out;
    private IReadOnlyList<string> _names = [];
    private bool[] _started = [];
    private int[] _onCpu = [];
    private readonly HashSet<ulong> _tracks = [];
    private bool _first = true;
    private bool _ended;

    public string Path { get; }

    public PerfettoProtoWriter(string path)
    {
        Path = path;
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        _out = new CodedOutputStream(_file, leaveOpen: true);
    }

    /// <summary>The tid a task is shown under.</summary>
    public static int Tid(int task) => task + 2;

    private string Comm(int task) => task < 0 ? "" : _names[task];

    public void Begin(int cpus, IReadOnlyList<string> taskNames, string title)
    {
        _names = taskNames;
        _started = new bool[taskNames.Count];
        _onCpu = new int[cpus];
        Array.Fill(_onCpu, -1);
        // The process tree: one process, one thread per task (ui.perfetto.dev names the thread tracks from it).
        WritePacket(0, p =>
        {
            Message(p, PacketProcessTree, tree =>
            {
                Message(tree, TreeProcesses, proc =>
                {
                    proc.WriteTag(ProcPid, WireFormat.WireType.Varint); proc.WriteInt32(ProcessPid);
                    proc.WriteTag(ProcPpid, WireFormat.WireType.Varint); proc.WriteInt32(0);
                    proc.WriteTag(ProcCmdline, WireFormat.WireType.LengthDelimited); proc.WriteString($"scxlab {title}");
                });
                for (var t = 0; t < taskNames.Count; t++)
                {
                    var task = t;
                    Message(tree, TreeThreads, th =>
                    {
                        th.WriteTag(ThreadTid, WireFormat.WireType.Varint); th.WriteInt32(Tid(task));
                        th.WriteTag(ThreadName, WireFormat.WireType.LengthDelimited); th.WriteString(taskNames[task]);
                        th.WriteTag(ThreadTgid, WireFormat.WireType.Varint); th.WriteInt32(ProcessPid);
                    });
                }
            });
        });
        Track(GlobalTrack, "sched_ext");
    }

    public void TaskSlice(int cpu, int task, long startNs, long endNs, bool preempted)
    {
        // Switch in at the start, out at the end (to idle; the next slice switches idle out again at its start).
        Switch(cpu, startNs, _onCpu[cpu], StateRunnable, task);
        Switch(cpu, endNs, task, preempted ? StateRunnable : StateSleeping, -1);
    }

    private void Switch(int cpu, long ns, int prev, long prevState, int next)
    {
        _onCpu[cpu] = next;
        Ftrace(cpu, ns, prev < 0 ? 0 : Tid(prev), EventSchedSwitch, e =>
        {
            e.WriteTag(SwPrevComm, WireFormat.WireType.LengthDelimited); e.WriteString(prev < 0 ? $"swapper/{cpu}" : Comm(prev));
            e.WriteTag(SwPrevPid, WireFormat.WireType.Varint); e.WriteInt32(prev < 0 ? 0 : Tid(prev));
            e.WriteTag(SwPrevPrio, WireFormat.WireType.Varint); e.WriteInt32(prev < 0 ? 120 : Prio);
            e.WriteTag(SwPrevState, WireFormat.WireType.Varint); e.WriteInt64(prev < 0 ? StateRunnable : prevState);
            e.WriteTag(SwNextComm, WireFormat.WireType.LengthDelimited); e.WriteString(next < 0 ? $"swapper/{cpu}" : Comm(next));
            e.WriteTag(SwNextPid, WireFormat.WireType.Varint); e.WriteInt32(next < 0 ? 0 : Tid(next));
            e.WriteTag(SwNextPrio, WireFormat.WireType.Varint); e.WriteInt32(next < 0 ? 120 : Prio);
        });
    }

    public void Wakeup(int task, int cpu, long ns)
    {
        var isNew = !_started[task];
        _started[task] = true;
        // The waker's CPU is not tracked; the event is filed on the target CPU, as a remote wakeup's would be.
        Ftrace(cpu, ns, 0, isNew ? EventSchedWakeupNew : EventSchedWaking, e =>
        {
            e.WriteTag(WkComm, WireFormat.WireType.LengthDelimited); e.WriteString(Comm(task));
            e.WriteTag(WkPid, WireFormat.WireType.Varint); e.WriteInt32(Tid(task));
            e.WriteTag(WkPrio, WireFormat.WireType.Varint); e.WriteInt32(Prio);
            e.WriteTag(WkSuccess, WireFormat.WireType.Varint); e.WriteInt32(1);
            e.WriteTag(WkTargetCpu, WireFormat.WireType.Varint); e.WriteInt32(cpu);
        });
    }

    public void Migration(int task, int fromCpu, long fromNs, int toCpu, long toNs) =>
        InstantEvent(GlobalTrack, toNs, $"migrate {Comm(task)}: CPU{fromCpu} → CPU{toCpu}", "migration");

    public void Instant(int cpu, long ns, string name, string detail)
    {
        var track = GlobalTrack;
        if (cpu >= 0)
        {
            track = CpuTrack(cpu);
            if (_tracks.Add(track)) Track(track, $"sched_ext CPU {cpu}");
        }
        InstantEvent(track, ns, detail.Length == 0 ? name : $"{name}: {detail}", "sched_ext");
    }

    public void End(long ns)
    {
        if (_ended) return;
        _ended = true;
        _out.Flush();
        _file.Flush();
    }

    private void Track(ulong uuid, string name)
    {
        _tracks.Add(uuid);
        WritePacket(0, p => Message(p, PacketTrackDescriptor, d =>
        {
            d.WriteTag(TrackUuid, WireFormat.WireType.Varint); d.WriteUInt64(uuid);
            d.WriteTag(TrackName, WireFormat.WireType.LengthDelimited); d.WriteString(name);
        }));
    }

    private void InstantEvent(ulong track, long ns, string name, string category) =>
        WritePacket(ns, p => Message(p, PacketTrackEvent, e =>
        {
            e.WriteTag(EvType, WireFormat.WireType.Varint); e.WriteInt32(TypeInstant);
            e.WriteTag(EvTrackUuid, WireFormat.WireType.Varint); e.WriteUInt64(track);
            e.WriteTag(EvCategories, WireFormat.WireType.LengthDelimited); e.WriteString(category);
            e.WriteTag(EvName, WireFormat.WireType.LengthDelimited); e.WriteString(name);
        }));

    /// <summary>One TracePacket holding one ftrace event bundle with one event of <paramref name="field"/>.</summary>
    private void Ftrace(int cpu, long ns, int pid, int field, Action<CodedOutputStream> body) =>
        WritePacket(-1, p => Message(p, PacketFtraceEvents, bundle =>
        {
            bundle.WriteTag(BundleCpu, WireFormat.WireType.Varint); bundle.WriteUInt32((uint)cpu);
            Message(bundle, BundleEvent, ev =>
            {
                ev.WriteTag(EventTimestamp, WireFormat.WireType.Varint); ev.WriteUInt64((ulong)ns);
                ev.WriteTag(EventPid, WireFormat.WireType.Varint); ev.WriteUInt32((uint)pid);
                Message(ev, field, body);
            });
        }));

    /// <param name="ns">The packet timestamp, or -1 for none (ftrace bundles carry their events' own).</param>
    private void WritePacket(long ns, Action<CodedOutputStream> body)
    {
        var bytes = Encode(p =>
        {
            if (ns >= 0)
            {
                p.WriteTag(PacketTimestamp, WireFormat.WireType.Varint); p.WriteUInt64((ulong)ns);
            }
            p.WriteTag(PacketSequenceId, WireFormat.WireType.Varint); p.WriteUInt32(SequenceId);
            if (_first)
            {
                _first = false;
                p.WriteTag(PacketSequenceFlags, WireFormat.WireType.Varint); p.WriteUInt32(1); // SEQ_INCREMENTAL_STATE_CLEARED
            }
            body(p);
        });
        _out.WriteTag(1, WireFormat.WireType.LengthDelimited); // Trace.packet
        _out.WriteBytes(ByteString.CopyFrom(bytes));
    }

    /// <summary>Write a nested message as a length-delimited field.</summary>
    private static void Message(CodedOutputStream into, int field, Action<CodedOutputStream> body)
    {
        into.WriteTag(field, WireFormat.WireType.LengthDelimited);
        into.WriteBytes(ByteString.CopyFrom(Encode(body)));
    }

    private static byte[] Encode(Action<CodedOutputStream> body)
    {
        using var ms = new MemoryStream();
        using (var s = new CodedOutputStream(ms, leaveOpen: true))
        {
            body(s);
            s.Flush();
        }
        return ms.ToArray();
    }

    public void Dispose()
    {
        _out.Flush();
        _out.Dispose();
        _file.Dispose();
    }
}
