namespace Scxlab.Exploration;

/// <summary>
/// The parent links of a breadth-first search (parent node, actor stepped), shared by the sequential and the
/// layer-parallel BFS: node 0 is the root, and the path to a node is the shortest trace to its state.
/// </summary>
internal sealed class BfsTree(ExploreStats stats)
{
    private readonly List<int> _parent = [-1];
    private readonly List<byte> _actor = [0];

    /// <summary>Bytes the links take (their lists' capacity).</summary>
    public long Bytes => _parent.Capacity * (long)sizeof(int) + _actor.Capacity;

    public int Add(int parent, int actor, int depth)
    {
        _parent.Add(parent);
        _actor.Add((byte)actor);
        if (depth > stats.MaxDepth) stats.MaxDepth = depth;
        return _parent.Count - 1;
    }

    public int[] PathTo(int index)
    {
        var path = new List<int>();
        for (var i = index; i > 0; i = _parent[i]) path.Add(_actor[i]);
        path.Reverse();
        return [.. path];
    }
}
