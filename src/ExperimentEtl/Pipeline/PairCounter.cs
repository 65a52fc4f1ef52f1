using System.Numerics;
using System.Runtime.InteropServices;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Counts experiments per (user index, compound id) pair: the state behind each user's favourite compound. Within a
/// memory budget: when the table would outgrow its share it is written to disk as a sorted run and emptied, and the
/// runs are merged when the pairs are read back in (user index, compound id) order.
/// </summary>
/// <remarks>
/// When user and compound ids are small enough, each pair takes one 64-bit slot of an open-addressing table
/// (key in the high bits, count in the low bits, so that sorting the slots sorts the keys). Measured at L (6.7M
/// distinct pairs): 2.3 s and 142 MB, against 11–12.6 s and 372 MB for a Dictionary&lt;long, int&gt;, which remains
/// the fallback for large ids.
/// </remarks>
public sealed class PairCounter : IDisposable
{
    const double MaxLoad = 0.7;
    const int MinCountBits = 24;
    const int MinSlots = 16;

    // A Dictionary<long, int> entry with its bucket, and room for the copy its growth makes.
    const int DictionaryBytesPerPair = 48;

    readonly int _compoundBits;
    readonly int _countBits;
    readonly ulong _countMask;
    readonly long _maxPackedCount;
    readonly int _maxSlots;
    readonly int _maxDictionaryPairs;
    readonly string _spillParent;
    ulong[]? _slots;
    int _shift;
    Dictionary<long, int>? _dictionary;
    long _experimentsAtSpill;

    ScratchFolder? _spill;
    readonly List<string> _runs = [];

    // Once read back, the pairs left in memory, sorted: the packed slots in place, or the dictionary's in two arrays.
    bool _sorted;
    int _sortedLength;
    long[]? _sortedKeys;
    int[]? _sortedCounts;

    /// <param name="users">How many users (indexes 0 to users - 1) there are.</param>
    /// <param name="maxCompoundId">The largest compound id that can occur, or null when unknown.</param>
    /// <param name="budget">Bounds the table; spilled runs go to a private folder under its spill folder.</param>
    public PairCounter(int users, int? maxCompoundId, MemoryBudget? budget = null)
    {
        budget ??= MemoryBudget.Default;
        _spillParent = budget.SpillParent;
        _compoundBits = maxCompoundId is { } max ? 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(max, 1)) : 32;
        var keyBits = 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(users, 1)) + _compoundBits + 1;
        // The largest table whose growth (old and new arrays together, 1.5 times the new one) stays within the share.
        var slotsWithinShare = Math.Max(MinSlots, budget.PairBytes / 12);
        _maxSlots = (int)Math.Min(1L << 30, (long)(BitOperations.RoundUpToPowerOf2((ulong)slotsWithinShare + 1) / 2));
        _maxDictionaryPairs = (int)Math.Clamp(budget.PairBytes / DictionaryBytesPerPair, MinSlots, int.MaxValue);
        if (maxCompoundId is null || 64 - keyBits < MinCountBits)
        {
            _dictionary = [];
            return;
        }
        _countBits = 64 - keyBits;
        _countMask = (1UL << _countBits) - 1;
        _maxPackedCount = (1L << Math.Min(62, _countBits)) - 1;
        var initial = Math.Min(1 << 16, _maxSlots);
        _slots = new ulong[initial];
        _shift = 64 - BitOperations.Log2((uint)initial);
    }

    /// <summary>Distinct pairs held in memory (those spilled to disk are not counted).</summary>
    public int Count { get; private set; }

    /// <summary>How many sorted runs were written to disk.</summary>
    public int SpilledRuns => _runs.Count;

    /// <summary>
    /// Adds one experiment to the pair's count. <paramref name="experimentsSoFar"/> bounds any count, so that a count
    /// never outgrows its bits.
    /// </summary>
    public void Increment(int userIndex, int compoundId, long experimentsSoFar)
    {
        if (_sorted)
        {
            throw new InvalidOperationException("The pairs were already read back.");
        }
        if (_slots is null)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_dictionary!, ((long)userIndex << _compoundBits) | (uint)compoundId, out var exists)++;
            if (!exists && ++Count >= _maxDictionaryPairs)
            {
                Spill();
            }
            return;
        }
        if (experimentsSoFar - _experimentsAtSpill >= _maxPackedCount)
        {
            Spill(); // Counts restart from 0; the merge adds them up.
            _experimentsAtSpill = experimentsSoFar - 1;
        }
        var key = (((ulong)userIndex << _compoundBits) | (uint)compoundId) + 1; // + 1: an empty slot is 0.
        var slots = _slots;
        var mask = slots.Length - 1;
        var i = (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
        while (true)
        {
            ref var slot = ref slots[i];
            if (slot == 0)
            {
                slot = (key << _countBits) | 1;
                if (++Count > slots.Length * MaxLoad)
                {
                    if (slots.Length < _maxSlots)
                    {
                        Grow();
                    }
                    else
                    {
                        Spill();
                    }
                }
                return;
            }
            if (slot >> _countBits == key)
            {
                slot++;
                return;
            }
            i = (i + 1) & mask;
        }
    }

    void Grow()
    {
        var old = _slots!;
        var slots = new ulong[old.Length * 2];
        _shift--;
        var mask = slots.Length - 1;
        foreach (var slot in old)
        {
            if (slot == 0)
            {
                continue;
            }
            var i = (int)(((slot >> _countBits) * 0x9E3779B97F4A7C15UL) >> _shift);
            while (slots[i] != 0)
            {
                i = (i + 1) & mask;
            }
            slots[i] = slot;
        }
        _slots = slots;
    }

    /// <summary>Writes the pairs in memory to disk as one sorted run and empties the table.</summary>
    void Spill()
    {
        _spill ??= ScratchFolder.Create(_spillParent, MemoryBudget.SpillPrefix);
        var path = Path.Combine(_spill.Path, $"pairs-{_runs.Count:D5}.run");
        _runs.Add(path);
        using (var writer = new PairRunWriter(path))
        {
            SortInMemory();
            for (var i = 0; i < _sortedLength; i++)
            {
                var (key, count) = SortedAt(i);
                writer.Write(key, count);
            }
        }
        if (_slots is not null)
        {
            Array.Clear(_slots);
        }
        else
        {
            _dictionary!.Clear();
            (_sortedKeys, _sortedCounts) = (null, null);
        }
        (_sorted, _sortedLength, Count) = (false, 0, 0);
    }

    void SortInMemory()
    {
        if (_sorted)
        {
            return;
        }
        _sorted = true;
        if (_slots is { } slots)
        {
            // In place: the used slots to the front, then sorted (by key, which is in the high bits). No extra memory.
            var used = 0;
            for (var i = 0; i < slots.Length; i++)
            {
                if (slots[i] != 0)
                {
                    slots[used++] = slots[i];
                }
            }
            slots.AsSpan(used).Clear();
            slots.AsSpan(0, used).Sort();
            _sortedLength = used;
            return;
        }
        var dictionary = _dictionary!;
        var keys = new long[dictionary.Count];
        var counts = new int[dictionary.Count];
        var n = 0;
        foreach (var (key, count) in dictionary)
        {
            (keys[n], counts[n]) = (key, count);
            n++;
        }
        Array.Sort(keys, counts);
        (_sortedKeys, _sortedCounts, _sortedLength) = (keys, counts, n);
    }

    /// <summary>The i-th pair of the sorted pairs in memory: its key (user index, then compound id) and count.</summary>
    (ulong Key, int Count) SortedAt(int i) => _sortedKeys is { } keys
        ? ((ulong)keys[i], _sortedCounts![i])
        : ((_slots![i] >> _countBits) - 1, (int)(_slots[i] & _countMask));

    /// <summary>
    /// Every pair once, in (user index, compound id) order, with its count over all runs. The counter takes no more
    /// increments after this; it can be read back any number of times.
    /// </summary>
    public PairReader Read()
    {
        SortInMemory();
        return new PairReader(this);
    }

    /// <summary>Deletes the spilled runs.</summary>
    public void Dispose()
    {
        _spill?.Dispose();
        _spill = null;
    }

    /// <summary>A k-way merge of the spilled runs and the sorted pairs in memory.</summary>
    public sealed class PairReader : IDisposable
    {
        readonly PairCounter _pairs;
        readonly PairRunReader[] _runs;
        readonly PriorityQueue<int, ulong> _heads = new();
        readonly ulong _compoundMask;
        int _memoryNext;

        internal PairReader(PairCounter pairs)
        {
            _pairs = pairs;
            _compoundMask = (1UL << pairs._compoundBits) - 1;
            _runs = new PairRunReader[pairs._runs.Count];
            try
            {
                for (var r = 0; r < _runs.Length; r++)
                {
                    _runs[r] = new PairRunReader(pairs._runs[r]);
                    if (_runs[r].TryRead())
                    {
                        _heads.Enqueue(r, _runs[r].Key);
                    }
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        /// <summary>The next pair, its counts over all runs added up; false at the end.</summary>
        public bool MoveNext(out int userIndex, out int compoundId, out int count)
        {
            ulong key;
            if (_runs.Length == 0)
            {
                // Nothing was spilled: the sorted table alone, without the merge's cost.
                if (_memoryNext == _pairs._sortedLength)
                {
                    (userIndex, compoundId, count) = (0, 0, 0);
                    return false;
                }
                (key, count) = _pairs.SortedAt(_memoryNext++);
            }
            else if (!Merge(out key, out count))
            {
                (userIndex, compoundId) = (0, 0);
                return false;
            }
            userIndex = (int)(key >> _pairs._compoundBits);
            compoundId = (int)(key & _compoundMask);
            return true;
        }

        bool Merge(out ulong key, out int count)
        {
            var memoryKey = _memoryNext < _pairs._sortedLength ? _pairs.SortedAt(_memoryNext).Key : ulong.MaxValue;
            if (!_heads.TryPeek(out _, out var runKey) && memoryKey == ulong.MaxValue)
            {
                (key, count) = (0, 0);
                return false;
            }
            key = _heads.Count == 0 ? memoryKey : Math.Min(runKey, memoryKey);
            count = 0;
            if (memoryKey == key)
            {
                count += _pairs.SortedAt(_memoryNext++).Count;
            }
            while (_heads.TryPeek(out var r, out var head) && head == key)
            {
                var run = _runs[r];
                count += run.Count;
                if (run.TryRead())
                {
                    _heads.DequeueEnqueue(r, run.Key);
                }
                else
                {
                    _heads.Dequeue();
                }
            }
            return true;
        }

        public void Dispose()
        {
            foreach (var run in _runs)
            {
                run?.Dispose();
            }
        }
    }
}

/// <summary>
/// Writes a sorted run: for each pair the difference from the previous key, then the count, both as LEB128
/// variable-length numbers (3–4 bytes a pair instead of 12).
/// </summary>
sealed class PairRunWriter : IDisposable
{
    readonly FileStream _file;
    readonly byte[] _buffer = new byte[1 << 16];
    int _used;
    ulong _previous;

    public PairRunWriter(string path) =>
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);

    public void Write(ulong key, int count)
    {
        if (_used > _buffer.Length - 20)
        {
            Flush();
        }
        WriteVarint(key - _previous);
        WriteVarint((uint)count);
        _previous = key;
    }

    void WriteVarint(ulong value)
    {
        var buffer = _buffer;
        while (value >= 0x80)
        {
            buffer[_used++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[_used++] = (byte)value;
    }

    void Flush()
    {
        _file.Write(_buffer, 0, _used);
        _used = 0;
    }

    public void Dispose()
    {
        try
        {
            Flush();
        }
        finally
        {
            _file.Dispose();
        }
    }
}

/// <summary>Reads back a run of <see cref="PairRunWriter"/>.</summary>
sealed class PairRunReader : IDisposable
{
    readonly FileStream _file;
    readonly byte[] _buffer = new byte[1 << 16];
    int _next;
    int _length;

    public PairRunReader(string path) =>
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);

    public ulong Key { get; private set; }

    public int Count { get; private set; }

    public bool TryRead()
    {
        if (_next == _length && !Fill())
        {
            return false;
        }
        Key += ReadVarint();
        Count = (int)ReadVarint();
        return true;
    }

    bool Fill()
    {
        _length = _file.Read(_buffer, 0, _buffer.Length);
        _next = 0;
        return _length > 0;
    }

    ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (_next == _length && !Fill())
            {
                throw new InvalidDataException("A spilled run of pairs ends in the middle of a number.");
            }
            var b = _buffer[_next++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
