using System.Buffers.Binary;
using Scxlab.Exploration;
using Scxlab.Kernel;
using Scxlab.Scenarios;

namespace Scxlab.Tests.BpfObject;

/// <summary>
/// programs/isa.bpf.c computes with ALU/ALU64, shifts, byte swaps, sign extension, atomics on
/// shared memory, sub-word loads, bounded loops and (recursive) bpf-to-bpf calls, then reports the
/// results through scx_bpf_exit_bstr(); the same arithmetic is done here in C#.
/// </summary>
public class BpfInterpreterTests
{
    private static string ExitMessage(string obj)
    {
        var r = BpfExamples.ExploreSeedRace(obj);
        var v = Assert.Single(r.Violations);
        const string prefix = "scheduler exit SCX_EXIT_UNREG_BPF: ";
        var text = v.Violation.ToString();
        Assert.StartsWith(prefix, text);
        return text[prefix.Length..];
    }

    private static List<ulong> Expected(bool v4)
    {
        ulong c = 0x123456789abcdef0UL, d = 5;
        long a = -7;
        uint w = 0xfffffff0U;
        var r = unchecked(new List<ulong>
        {
            c / d + c % d,
            (ulong)(a >> 1) + (c >> 7) + (c << 3),
            unchecked((uint)c * 3u + (w + 0x20)),
            BinaryPrimitives.ReverseEndianness(c) ^ BinaryPrimitives.ReverseEndianness((uint)c) ^ BinaryPrimitives.ReverseEndianness((ushort)c),
            (ulong)(-3L) + (ulong)(-300L) + (ulong)(long)(int)w,
        });
        // Atomics: g64 = 10, g32 = 20.
        ulong g64 = 10, g32 = 20;
        var old = g64; g64 += 5; r.Add(old * 1000 + g64);
        var o1 = g32; g32 |= 3; var o2 = g32; g32 &= 6; var o3 = g32; g32 ^= 1; r.Add(o1 * 1000 + o2 * 100 + o3);
        var x = g64; g64 = 77; var cx = g32; if (g32 == 7) g32 = 9; r.Add(x * 1000 + cx * 10 + g32);
        ulong f0 = 0, f1 = 1;
        for (var i = 0; i < 50; i++) (f0, f1) = (f1, f0 + f1);
        r.Add(f0);
        ulong Depth(uint n) => n == 0 ? n + 7 : Depth(n - 1) + n + 3;
        r.Add(Depth(5));
        byte[] bytes = [1, 2, 3, 4, 5, 6, 7, 8];
        r.Add(bytes[3] | (ulong)bytes[6] << 8 | (ulong)BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(4)) << 16);
        r.Add(v4 ? unchecked((ulong)(a / 2) + (ulong)(a % 3) * 1000) : (ulong)-a / 2);
        return r;
    }

    [Theory]
    [InlineData("v3")]
    [InlineData("v4")]
    public void Should_ComputeWhatCDoes_When_TheIsaProgramRuns(string cpu)
    {
        var msg = ExitMessage(BpfExamples.CompileProgram("isa.bpf.c", cpu));
        Assert.Equal(string.Join(' ', Expected(cpu == "v4")), msg);
    }
}
