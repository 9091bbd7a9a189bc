using System.Text.Json;
using Scxlab.Simulation;

namespace Scxlab.Reporting;

/// <summary>A timeline written to a file (<see cref="PerfettoProtoWriter"/>, <see cref="PerfettoWriter"/>).</summary>
public interface ITraceFileWriter : ISimTraceSink, IDisposable
{
    string Path { get; }
}

/// <summary>
/// Streams a simulation timeline as Chrome trace-event JSON (the format ui.perfetto.dev and
/// chrome://tracing open): one track (tid) per CPU in process "CPUs", a complete event ("X") per
/// task slice, flow arrows ("s"/"f") for migrations, instant events ("i") for scheduler exits,
/// kernel assertions, dropped dispatches and re-enqueues. Events are written as they happen and
/// flushed in chunks, so memory stays flat however long the run is. Timestamps are µs (ns precision).
/// </summary>
public sealed class PerfettoWriter : ITraceFileWriter
{
    private const int Pid = 1;
    private readonly FileStream _file;
    private readonly Utf8JsonWriter _w;
    private IReadOnlyList<string> _names = [];
    private long _flowId;
    private int _sinceFlush;
    private bool _ended;

    public string Path { get; }

    public PerfettoWriter(string path)
    {
        Path = path;
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 1 << 16);
        _w = new Utf8JsonWriter(_file, new JsonWriterOptions { Indented = false, SkipValidation = false });
    }

    private static double Us(long ns) => ns / 1000.0;

    public void Begin(int cpus, IReadOnlyList<string> taskNames, string title)
    {
        _names = taskNames;
        _w.WriteStartObject();
        _w.WriteString("displayTimeUnit", "ns");
        _w.WriteStartObject("otherData");
        _w.WriteString("title", title);
        _w.WriteEndObject();
        _w.WriteStartArray("traceEvents");
        Meta("process_name", -1, "CPUs");
        for (var c = 0; c < cpus; c++)
        {
            Meta("thread_name", c, $"CPU {c}");
            _w.WriteStartObject();
            _w.WriteString("ph", "M");
            _w.WriteNumber("pid", Pid);
            _w.WriteNumber("tid", c);
            _w.WriteString("name", "thread_sort_index");
            _w.WriteStartObject("args");
            _w.WriteNumber("sort_index", c);
            _w.WriteEndObject();
            _w.WriteEndObject();
        }
    }

    private void Meta(string name, int tid, string value)
    {
        _w.WriteStartObject();
        _w.WriteString("ph", "M");
        _w.WriteNumber("pid", Pid);
        if (tid >= 0) _w.WriteNumber("tid", tid);
        _w.WriteString("name", name);
        _w.WriteStartObject("args");
        _w.WriteString("name", value);
        _w.WriteEndObject();
        _w.WriteEndObject();
    }

    public void TaskSlice(int cpu, int task, long startNs, long endNs, bool preempted)
    {
        _w.WriteStartObject();
        _w.WriteString("ph", "X");
        _w.WriteNumber("pid", Pid);
        _w.WriteNumber("tid", cpu);
        _w.WriteNumber("ts", Us(startNs));
        _w.WriteNumber("dur", Us(endNs - startNs));
        _w.WriteString("name", _names[task]);
        _w.WriteString("cat", "task");
        _w.WriteStartObject("args");
        _w.WriteBoolean("preempted", preempted);
        _w.WriteEndObject();
        _w.WriteEndObject();
        MaybeFlush();
    }

    public void Migration(int task, int fromCpu, long fromNs, int toCpu, long toNs)
    {
        var id = ++_flowId;
        // "s" must fall inside the previous slice (which ended at fromNs) to bind to it.
        Flow("s", fromCpu, Math.Max(0, fromNs - 1), id, task);
        Flow("f", toCpu, toNs, id, task);
        MaybeFlush();
    }

    private void Flow(string ph, int cpu, long ns, long id, int task)
    {
        _w.WriteStartObject();
        _w.WriteString("ph", ph);
        if (ph == "f") _w.WriteString("bp", "e");
        _w.WriteNumber("pid", Pid);
        _w.WriteNumber("tid", cpu);
        _w.WriteNumber("ts", Us(ns));
        _w.WriteNumber("id", id);
        _w.WriteString("name", "migrate " + _names[task]);
        _w.WriteString("cat", "migration");
        _w.WriteEndObject();
    }

    public void Instant(int cpu, long ns, string name, string detail)
    {
        _w.WriteStartObject();
        _w.WriteString("ph", "i");
        _w.WriteString("s", cpu < 0 ? "g" : "t");
        _w.WriteNumber("pid", Pid);
        _w.WriteNumber("tid", cpu < 0 ? 0 : cpu);
        _w.WriteNumber("ts", Us(ns));
        _w.WriteString("name", name);
        _w.WriteString("cat", "event");
        _w.WriteStartObject("args");
        _w.WriteString("detail", detail);
        _w.WriteEndObject();
        _w.WriteEndObject();
        MaybeFlush();
    }

    private void MaybeFlush()
    {
        if (++_sinceFlush < 4096) return;
        _sinceFlush = 0;
        _w.Flush();
    }

    public void End(long ns)
    {
        if (_ended) return;
        _ended = true;
        _w.WriteEndArray();
        _w.WriteEndObject();
        _w.Flush();
    }

    public void Dispose()
    {
        try
        {
            if (!_ended && _w.CurrentDepth > 0)
            {
                while (_w.CurrentDepth > 0)
                {
                    if (_w.CurrentDepth == 2) _w.WriteEndArray();
                    else _w.WriteEndObject();
                }
            }
            _w.Flush();
        }
        finally
        {
            _w.Dispose();
            _file.Dispose();
        }
    }
}
