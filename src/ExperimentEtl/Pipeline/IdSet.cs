namespace ExperimentEtl.Pipeline;

/// <summary>
/// A set of non-negative ids, for uniqueness and existence checks over millions of rows:
/// a bitmap while ids stay below <see cref="MaxBitmapId"/> (10 million ids cost 1.25 MB instead of a hash set's ~200 MB),
/// a hash set for sparse ids beyond it.
/// </summary>
public sealed class IdSet
{
    const int MaxBitmapId = 1 << 26; // 8 MiB of bitmap at most.

    ulong[] _bits = new ulong[1024];
    HashSet<int>? _large;

    public int Count { get; private set; }

    /// <summary>The largest id added, or -1.</summary>
    public int Max { get; private set; } = -1;

    /// <summary>Adds <paramref name="id"/>; false when it was already there.</summary>
    public bool Add(int id)
    {
        Max = Math.Max(Max, id);
        if (id >= MaxBitmapId)
        {
            _large ??= [];
            if (!_large.Add(id))
            {
                return false;
            }
            Count++;
            return true;
        }
        var word = id >> 6;
        if (word >= _bits.Length)
        {
            Array.Resize(ref _bits, Math.Max(word + 1, Math.Min(_bits.Length * 2, MaxBitmapId >> 6)));
        }
        var mask = 1UL << (id & 63);
        if ((_bits[word] & mask) != 0)
        {
            return false;
        }
        _bits[word] |= mask;
        Count++;
        return true;
    }

    public bool Contains(int id)
    {
        if (id >= MaxBitmapId)
        {
            return _large?.Contains(id) == true;
        }
        var word = id >> 6;
        return word < _bits.Length && (_bits[word] & (1UL << (id & 63))) != 0;
    }
}
