using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Scxlab.Bpf;

internal enum BpfTaskStatus : byte
{
    Pending = 0,
    Completed,
    /// <summary>Stopped at a kfunc whose result is not known yet: the interleaving point.</summary>
    Suspended,
    Faulted,
}

/// <summary>
/// The task-like type policy callbacks return. A callback is never resumed: at an interleaving
/// point it simply stops (its awaiter reports "not completed" and the builder drops the state
/// machine), and the next step re-runs it from the start, feeding the recorded kfunc results
/// back (deterministic replay). Nothing is allocated and no exception unwinds the stack.
/// </summary>
[AsyncMethodBuilder(typeof(BpfTaskBuilder))]
public readonly struct BpfTask
{
    internal readonly BpfTaskStatus Status;
    internal readonly Exception? Error;

    internal BpfTask(BpfTaskStatus status, Exception? error)
    {
        Status = status;
        Error = error;
    }

    public static BpfTask CompletedTask => new(BpfTaskStatus.Completed, null);

    public Awaiter GetAwaiter() => new(this);

    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly BpfTask _t;
        internal Awaiter(BpfTask t) => _t = t;
        public bool IsCompleted => _t.Status is BpfTaskStatus.Completed or BpfTaskStatus.Faulted;

        public void GetResult()
        {
            if (_t.Status == BpfTaskStatus.Faulted) ExceptionDispatchInfo.Throw(_t.Error!);
            if (_t.Status != BpfTaskStatus.Completed) throw new PolicyMisuseException("the result of a suspended BPF call was read without await");
        }

        public void OnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
        public void UnsafeOnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
    }
}

/// <summary>A callback or helper that returns a value (e.g. ops.select_cpu).</summary>
[AsyncMethodBuilder(typeof(BpfTaskBuilder<>))]
public readonly struct BpfTask<T>
{
    internal readonly BpfTaskStatus Status;
    internal readonly Exception? Error;
    internal readonly T Result;

    internal BpfTask(BpfTaskStatus status, Exception? error, T result)
    {
        Status = status;
        Error = error;
        Result = result;
    }

    public static BpfTask<T> FromResult(T value) => new(BpfTaskStatus.Completed, null, value);

    public static implicit operator BpfTask<T>(T value) => FromResult(value);

    public Awaiter GetAwaiter() => new(this);

    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly BpfTask<T> _t;
        internal Awaiter(BpfTask<T> t) => _t = t;
        public bool IsCompleted => _t.Status is BpfTaskStatus.Completed or BpfTaskStatus.Faulted;

        public T GetResult()
        {
            if (_t.Status == BpfTaskStatus.Faulted) ExceptionDispatchInfo.Throw(_t.Error!);
            if (_t.Status != BpfTaskStatus.Completed) throw new PolicyMisuseException("the result of a suspended BPF call was read without await");
            return _t.Result;
        }

        public void OnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
        public void UnsafeOnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
    }
}

/// <summary>The result of one kfunc, map operation or task-field read: ready (replayed or just executed) or not yet.</summary>
public readonly struct BpfCall<T>
{
    private readonly T _value;
    private readonly bool _ready;

    internal BpfCall(T value)
    {
        _value = value;
        _ready = true;
    }

    public Awaiter GetAwaiter() => new(this);

    public readonly struct Awaiter : ICriticalNotifyCompletion
    {
        private readonly BpfCall<T> _c;
        internal Awaiter(BpfCall<T> c) => _c = c;
        public bool IsCompleted => _c._ready;

        public T GetResult() => _c._ready ? _c._value : throw new PolicyMisuseException("a kfunc result was read without await");

        public void OnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
        public void UnsafeOnCompleted(Action continuation) => throw new NotSupportedException("BPF callbacks are replayed, never resumed");
    }
}

internal static class AwaiterCheck
{
    public static bool IsBpf<TAwaiter>() =>
        typeof(TAwaiter) == typeof(BpfTask.Awaiter)
        || (typeof(TAwaiter).IsGenericType && (typeof(TAwaiter).GetGenericTypeDefinition() == typeof(BpfTask<>.Awaiter) || typeof(TAwaiter).GetGenericTypeDefinition() == typeof(BpfCall<>.Awaiter)));
}

public struct BpfTaskBuilder
{
    private BpfTaskStatus _status;
    private Exception? _error;

    public static BpfTaskBuilder Create() => default;
    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine => stateMachine.MoveNext();
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) { }
    public void SetResult() => _status = BpfTaskStatus.Completed;

    public void SetException(Exception exception)
    {
        _status = BpfTaskStatus.Faulted;
        _error = exception;
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine => Suspend<TAwaiter>();

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine => Suspend<TAwaiter>();

    private void Suspend<TAwaiter>()
    {
        if (AwaiterCheck.IsBpf<TAwaiter>())
        {
            _status = BpfTaskStatus.Suspended;
            return;
        }
        _status = BpfTaskStatus.Faulted;
        _error = new PolicyMisuseException($"non-deterministic policy: awaited {typeof(TAwaiter).Name}, which is not a BPF operation");
    }

    public readonly BpfTask Task => new(_status, _error);
}

public struct BpfTaskBuilder<T>
{
    private BpfTaskStatus _status;
    private Exception? _error;
    private T _result;

    public static BpfTaskBuilder<T> Create() => default;
    public void Start<TStateMachine>(ref TStateMachine stateMachine) where TStateMachine : IAsyncStateMachine => stateMachine.MoveNext();
    public readonly void SetStateMachine(IAsyncStateMachine stateMachine) { }

    public void SetResult(T result)
    {
        _status = BpfTaskStatus.Completed;
        _result = result;
    }

    public void SetException(Exception exception)
    {
        _status = BpfTaskStatus.Faulted;
        _error = exception;
    }

    public void AwaitOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : INotifyCompletion where TStateMachine : IAsyncStateMachine => Suspend<TAwaiter>();

    public void AwaitUnsafeOnCompleted<TAwaiter, TStateMachine>(ref TAwaiter awaiter, ref TStateMachine stateMachine)
        where TAwaiter : ICriticalNotifyCompletion where TStateMachine : IAsyncStateMachine => Suspend<TAwaiter>();

    private void Suspend<TAwaiter>()
    {
        if (AwaiterCheck.IsBpf<TAwaiter>())
        {
            _status = BpfTaskStatus.Suspended;
            return;
        }
        _status = BpfTaskStatus.Faulted;
        _error = new PolicyMisuseException($"non-deterministic policy: awaited {typeof(TAwaiter).Name}, which is not a BPF operation");
    }

    public readonly BpfTask<T> Task => new(_status, _error, _result!);
}

/// <summary>A misuse of the policy API that only run time can see; ends the scheduler like scx_error.</summary>
public sealed class PolicyMisuseException(string message) : Exception(message);

/// <summary>
/// The policy did something the model does not cover (a map type or flag, a field, a kfunc argument it has no
/// semantics for). The kernel would have gone on; the model cannot, so the path ends there as a gap in coverage:
/// the scheduler stops with this message (SCX_EXIT_ERROR, so nothing runs past it) and the world is marked
/// (<c>SchedState.ModelLimit</c>) so every driver reports <c>incomplete</c>, never a violation of the policy.
/// </summary>
public sealed class ModelLimitException(string message) : Exception(message);

/// <summary>
/// The kernel ends the scheduler with exactly this scx_error() message (SCX_EXIT_ERROR): what ext.c says when a
/// callback's return value is refused (e.g. "ops.init_task() failed (-12) for p[101]"), not a fault of the program.
/// </summary>
public sealed class KernelErrorException(string message) : Exception(message);

/// <summary>
/// A policy callback recursed until the stack ran low (checked at every BPF API entry). BPF has no
/// unbounded recursion — the verifier rejects recursive calls and bounds the stack at 512 bytes — so
/// the scheduler ends with SCX_EXIT_ERROR_BPF and this one-line reason.
/// </summary>
public sealed class PolicyStackOverflowException()
    : Exception("stack overflow: the policy recursed without bound (the BPF verifier rejects recursive calls; a BPF program's stack is 512 bytes)");
