using System.Runtime.CompilerServices;

namespace Scxlab.Stepping;

/// <summary>
/// The shared state one step touched, as two 64-bit Bloom sets (reads, writes) over resources
/// (a task's fields, an rq, a DSQ, a map, a lock). Collisions only make two steps look dependent,
/// which costs reduction but never soundness.
/// </summary>
public struct Footprint
{
    public ulong Reads;
    public ulong Writes;

    public readonly bool DependsOn(in Footprint other) =>
        ((Writes & (other.Reads | other.Writes)) | (other.Writes & Reads)) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Bit(Resource kind, int id) => 1UL << (int)(((uint)kind * 0x9E3779B1u + (uint)id * 0x85EBCA77u) >> 26);
}

public enum Resource : byte
{
    Task = 1,
    Rq = 2,
    Dsq = 3,
    Map = 4,
    Sched = 5,
    Lock = 6,
    Buffer = 7,
}
