namespace ExperimentEtl.Pipeline;

/// <summary>
/// The fingerprints of one table's rows of the data set in the database, by id, for a change-only reload: looked up
/// once per row read, and each id found is marked, so that the ids never found are the rows removed.
/// </summary>
/// <remarks>
/// Ids of exports are usually dense (1, 2, 3...): then the fingerprints are an array indexed by id, 8 bytes an id and
/// one memory access a row. Sparse ids are kept sorted and found by binary search. A fingerprint is never 0, which
/// marks an id that has no row.
/// </remarks>
sealed class FingerprintIndex
{
    // Dense when the ids span at most this many times their count.
    const int DenseSpan = 4;

    readonly int _min;
    readonly long[] _values;
    // Sparse only: the ids, ascending, beside their values.
    readonly int[]? _ids;
    // A second value per row, where the table keeps one (the users' experiments fingerprint).
    readonly long[]? _second;
    readonly ulong[] _seen;

    public int Count { get; }

    /// <summary>Bytes this index holds.</summary>
    public long Bytes => _values.LongLength * 8 + (_ids?.LongLength ?? 0) * 4 + (_second?.LongLength ?? 0) * 8 + _seen.LongLength * 8;

    /// <summary>The bytes an index of <paramref name="count"/> rows spanning ids <paramref name="min"/>..<paramref name="max"/> takes.</summary>
    public static long BytesFor(long count, int min, int max, bool second)
    {
        var slots = IsDense(count, min, max) ? (long)max - min + 1 : count;
        return slots * (second ? 16 : 8) + (IsDense(count, min, max) ? 0 : count * 4) + (slots / 64 + 1) * 8;
    }

    static bool IsDense(long count, int min, int max) => count == 0 || (long)max - min + 1 <= DenseSpan * count + 1024;

    /// <param name="rows">Each row's id and fingerprint(s), in any order, each id once; read twice.</param>
    public FingerprintIndex(int count, int min, int max, bool second, Func<IEnumerable<(int Id, long Value, long Second)>> rows)
    {
        Count = count;
        if (IsDense(count, min, max))
        {
            _min = count == 0 ? 0 : min;
            var slots = count == 0 ? 0 : (long)max - min + 1;
            _values = new long[slots];
            _second = second ? new long[slots] : null;
            foreach (var (id, value, secondValue) in rows())
            {
                _values[id - _min] = value;
                if (_second is not null)
                {
                    _second[id - _min] = secondValue;
                }
            }
        }
        else
        {
            _ids = new int[count];
            _values = new long[count];
            _second = second ? new long[count] : null;
            var i = 0;
            foreach (var (id, value, secondValue) in rows())
            {
                _ids[i] = id;
                _values[i] = value;
                if (_second is not null)
                {
                    _second[i] = secondValue;
                }
                i++;
            }
            if (_second is null)
            {
                Array.Sort(_ids, _values);
            }
            else
            {
                // Ids are unique: sorting a copy of them with each value array moves both the same way.
                Array.Sort((int[])_ids.Clone(), _values);
                Array.Sort(_ids, _second);
            }
        }
        _seen = new ulong[_values.Length / 64 + 1];
    }

    /// <summary>Finds a row by id and marks it seen; false when the data set has no row with that id.</summary>
    public bool TryFind(int id, out long value, out long second)
    {
        var slot = SlotOf(id);
        if (slot < 0 || _values[slot] == 0)
        {
            (value, second) = (0, 0);
            return false;
        }
        _seen[slot >> 6] |= 1UL << (int)(slot & 63);
        value = _values[slot];
        second = _second?[slot] ?? 0;
        return true;
    }

    long SlotOf(int id)
    {
        if (_ids is null)
        {
            var slot = (long)id - _min;
            return (ulong)slot < (ulong)_values.Length ? slot : -1;
        }
        var index = Array.BinarySearch(_ids, id);
        return index >= 0 ? index : -1;
    }

    /// <summary>The ids that were never found: the rows the new data set no longer has.</summary>
    public List<int> Unseen()
    {
        var unseen = new List<int>();
        for (long slot = 0; slot < _values.Length; slot++)
        {
            if (_values[slot] != 0 && (_seen[slot >> 6] & (1UL << (int)(slot & 63))) == 0)
            {
                unseen.Add(_ids is null ? (int)(slot + _min) : _ids[slot]);
            }
        }
        return unseen;
    }
}
