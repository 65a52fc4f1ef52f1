using System.Numerics;
using System.Runtime.InteropServices;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Counts experiments per (user index, compound id) pair: the state behind each user's favourite compound. Within a
/// memory budget: when its share is full the pairs so far are written to disk as a sorted run, and the runs are merged
/// when the pairs are read back in (user index, compound id) order. At most <see cref="MaxRuns"/> runs exist at once:
/// the spill that would exceed them merges the runs and the pairs in memory into one run instead.
/// </summary>
/// <remarks>
/// When a pair fits 32 bits once the high bits of its user index are dropped, each occurrence is appended (4 bytes) to
/// the buffer of its partition, a range of users; counting is left to the end (or the spill), where each partition is
/// radix sorted in the cache and equal keys are counted in one pass. Appending writes sequentially where a hash table
/// took a cache and TLB miss per occurrence, and the sorting it needed anyway now happens in cache-sized pieces.
/// Measured at L (22M occurrences, 6.7M distinct pairs): see docs/benchmarks.md. A Dictionary&lt;long, int&gt;
/// remains the fallback for ids too large to pack.
/// </remarks>
public sealed class PairCounter : IDisposable
{
    // A partition of 4096 users: at about 22 occurrences a user (L), 4 bytes each, a few hundred KB to sort, within the L2 cache.
    const int UserBitsPerPartition = 12;
    const int MaxPartitionBits = 12;
    const int MinChunk = 16;
    const int MaxChunk = 4096;
    const int MaxSlab = 1 << 16;
    const int MinScratch = 16;
    const int MaxScratch = 1 << 21;
    const int RadixBits = 11;
    const int MinSpill = 16;

    /// <summary>
    /// The most run files at once, so the most a merge opens (those less one, and the pairs in memory): 64 handles and
    /// 4 MB of read buffers stay far below the open-file limit (1024) and within the slack the budget leaves outside the
    /// share, while a compaction rewrites the pairs so far only once every 63 spills.
    /// </summary>
    internal const int MaxRuns = 64;

    // A Dictionary<long, int> entry with its bucket, and room for the copy its growth makes.
    const int DictionaryBytesPerPair = 48;

    readonly int _compoundBits;
    readonly string _spillParent;

    // Occurrences: the buffers of the partitions are linked chunks of a pool of slabs, taken in order and all freed
    // together by a spill. A partition's next free position is chunk * chunk length + used; on a chunk boundary, full.
    readonly int _localBits;
    readonly uint _localMask;
    readonly int _chunkBits;
    readonly int _maxChunks;
    readonly int _slabBits;
    readonly int _scratchLength;
    readonly List<uint[]> _slabs = [];
    readonly int[]? _tail;
    readonly int[]? _length;
    readonly int[]? _firstChunk;
    readonly int[]? _lastChunk;
    readonly int[]? _nextChunk;
    uint[]? _scratch;
    uint[]? _spare;
    int _usedChunks;

    readonly int _maxDictionaryPairs;
    readonly Dictionary<long, int>? _dictionary;

    ScratchFolder? _spill;
    readonly List<string> _runs = [];
    int _spills;

    // Once read back, the pairs left in memory, sorted: each partition's occurrences in place, or the dictionary's in two arrays.
    bool _sorted;
    int _count;
    long[]? _sortedKeys;
    int[]? _sortedCounts;

    /// <param name="users">How many users (indexes 0 to users - 1) there are.</param>
    /// <param name="maxCompoundId">The largest compound id that can occur, or null when unknown.</param>
    /// <param name="budget">Bounds the buffers; spilled runs go to a private folder under its spill folder.</param>
    public PairCounter(int users, int? maxCompoundId, MemoryBudget? budget = null)
    {
        budget ??= MemoryBudget.Default;
        _spillParent = budget.SpillParent;
        _compoundBits = maxCompoundId is { } max ? 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(max, 1)) : 32;
        var userBits = 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(users, 1));
        // Partitions of 4096 users (at most 4096 partitions, larger ones beyond 16M users), more when a pair must lose
        // more of its user index to fit 32 bits.
        var partitionBits = Math.Max(Math.Min(userBits - UserBitsPerPartition, MaxPartitionBits), userBits + _compoundBits - 32);
        _maxDictionaryPairs = (int)Math.Clamp(budget.PairBytes / DictionaryBytesPerPair, MinSpill, int.MaxValue);
        if (maxCompoundId is null || partitionBits > MaxPartitionBits)
        {
            _dictionary = [];
            return;
        }
        partitionBits = Math.Max(partitionBits, 0);
        _localBits = userBits - partitionBits;
        _localMask = (uint)((1UL << _localBits) - 1);
        var partitions = 1 << partitionBits;
        // A quarter of the share at most for the two sort buffers, the rest for occurrences, at least two chunks a partition.
        _scratchLength = (int)Math.Clamp(BitOperations.RoundUpToPowerOf2((ulong)Math.Max(budget.PairBytes / 32, 1) + 1) / 2, MinScratch, MaxScratch);
        var pool = Math.Max(budget.PairBytes - _scratchLength * 8L, 0) / sizeof(uint);
        var chunk = (int)Math.Clamp(BitOperations.RoundUpToPowerOf2((ulong)Math.Max(pool / (2 * partitions), 1) + 1) / 2, MinChunk, MaxChunk);
        _chunkBits = BitOperations.Log2((uint)chunk);
        _maxChunks = (int)Math.Clamp(pool / chunk, 2 * partitions, int.MaxValue / chunk);
        _slabBits = BitOperations.Log2((uint)Math.Min(MaxSlab, chunk * (int)Math.Min(_maxChunks, MaxSlab / chunk)));
        _tail = new int[partitions];
        _length = new int[partitions];
        _firstChunk = new int[partitions];
        _lastChunk = new int[partitions];
        _nextChunk = new int[_maxChunks];
        _firstChunk.AsSpan().Fill(-1);
    }

    /// <summary>Distinct pairs held in memory (those spilled to disk are not counted); counts them, so no increment may follow.</summary>
    public int Count
    {
        get
        {
            SortInMemory();
            return _count;
        }
    }

    /// <summary>How many times the pairs in memory were written to disk (as a run of their own or compacted with the runs).</summary>
    public int SpilledRuns => _spills;

    /// <summary>Adds one experiment to the pair's count.</summary>
    public void Increment(int userIndex, int compoundId)
    {
        if (_sorted)
        {
            throw new InvalidOperationException("The pairs were already read back.");
        }
        if (_dictionary is { } dictionary)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(dictionary, ((long)userIndex << _compoundBits) | (uint)compoundId, out var exists)++;
            if (!exists && ++_count >= _maxDictionaryPairs)
            {
                Spill();
            }
            return;
        }
        var partition = userIndex >> _localBits;
        var position = _tail![partition];
        if ((position & ((1 << _chunkBits) - 1)) == 0)
        {
            position = NewChunk(partition);
        }
        _slabs[position >> _slabBits][position & ((1 << _slabBits) - 1)] = ((uint)userIndex & _localMask) << _compoundBits | (uint)compoundId;
        _tail[partition] = position + 1;
        // A partition is sorted in the scratch buffers: it never outgrows them.
        if (++_length![partition] == _scratchLength)
        {
            Spill();
        }
    }

    /// <summary>Links a chunk to the partition (spilling first when the pool is used up); returns its first position.</summary>
    int NewChunk(int partition)
    {
        if (_usedChunks == _maxChunks)
        {
            Spill();
        }
        var chunk = _usedChunks++;
        var position = chunk << _chunkBits;
        if (position >> _slabBits == _slabs.Count)
        {
            _slabs.Add(new uint[1 << _slabBits]);
        }
        _nextChunk![chunk] = -1;
        if (_firstChunk![partition] < 0)
        {
            _firstChunk[partition] = chunk;
        }
        else
        {
            _nextChunk[_lastChunk![partition]] = chunk;
        }
        _lastChunk![partition] = chunk;
        return position;
    }

    /// <summary>Writes the pairs in memory to disk as one sorted run and empties the buffers.</summary>
    void Spill()
    {
        _spill ??= ScratchFolder.Create(_spillParent, MemoryBudget.SpillPrefix);
        var path = Path.Combine(_spill.Path, $"pairs-{_spills++:D5}.run");
        using (var writer = new PairRunWriter(path))
        {
            if (_runs.Count == MaxRuns - 1)
            {
                Compact(writer);
            }
            else if (_dictionary is not null)
            {
                SortInMemory();
                for (var i = 0; i < _count; i++)
                {
                    writer.Write((ulong)_sortedKeys![i], _sortedCounts![i]);
                }
            }
            else
            {
                for (var partition = 0; partition < _tail!.Length; partition++)
                {
                    var sorted = SortPartition(partition, writeBack: false);
                    var high = (ulong)partition << (_localBits + _compoundBits);
                    for (var i = 0; i < sorted.Length;)
                    {
                        var key = sorted[i];
                        var end = i + 1;
                        while (end < sorted.Length && sorted[end] == key)
                        {
                            end++;
                        }
                        writer.Write(high | key, end - i);
                        i = end;
                    }
                }
            }
        }
        _runs.Add(path);
        if (_dictionary is not null)
        {
            _dictionary.Clear();
            (_sortedKeys, _sortedCounts) = (null, null);
        }
        else
        {
            _usedChunks = 0;
            Array.Clear(_tail!);
            Array.Clear(_length!);
            _firstChunk.AsSpan().Fill(-1);
        }
        (_sorted, _count) = (false, 0);
    }

    /// <summary>Writes the runs and the pairs in memory, merged, as one run, and deletes the runs.</summary>
    void Compact(PairRunWriter writer)
    {
        SortInMemory(release: false);
        using (var reader = new PairReader(this))
        {
            while (reader.MoveNext(out var key, out var count))
            {
                writer.Write(key, count);
            }
        }
        foreach (var run in _runs)
        {
            File.Delete(run);
        }
        _runs.Clear();
    }

    /// <summary>
    /// Gathers a partition's occurrences into the scratch buffers and radix sorts them there (least significant digit
    /// first, 11 bits a pass); with <paramref name="writeBack"/>, copies them back into the partition's chunks in order.
    /// </summary>
    ReadOnlySpan<uint> SortPartition(int partition, bool writeBack)
    {
        var n = _length![partition];
        if (n == 0)
        {
            return [];
        }
        _scratch ??= new uint[_scratchLength];
        _spare ??= new uint[_scratchLength];
        var chunkLength = 1 << _chunkBits;
        var copied = 0;
        for (var chunk = _firstChunk![partition]; chunk >= 0; chunk = _nextChunk![chunk])
        {
            var length = Math.Min(chunkLength, n - copied);
            ChunkSpan(chunk, length).CopyTo(_scratch.AsSpan(copied));
            copied += length;
        }
        var (keys, spare) = (_scratch, _spare);
        var passes = (_localBits + _compoundBits + RadixBits - 1) / RadixBits;
        // One pass counts the digits of every pass; each pass then scatters by one digit.
        Span<int> offsets = stackalloc int[passes << RadixBits];
        offsets.Clear();
        for (var i = 0; i < n; i++)
        {
            var key = keys[i];
            for (var pass = 0; pass < passes; pass++)
            {
                offsets[(pass << RadixBits) | ((int)(key >> (pass * RadixBits)) & ((1 << RadixBits) - 1))]++;
            }
        }
        for (var pass = 0; pass < passes; pass++)
        {
            var digit = offsets.Slice(pass << RadixBits, 1 << RadixBits);
            var sum = 0;
            foreach (ref var offset in digit)
            {
                (offset, sum) = (sum, sum + offset);
            }
            var shift = pass * RadixBits;
            for (var i = 0; i < n; i++)
            {
                var key = keys[i];
                spare[digit[(int)(key >> shift) & ((1 << RadixBits) - 1)]++] = key;
            }
            (keys, spare) = (spare, keys);
        }
        if (writeBack)
        {
            copied = 0;
            for (var chunk = _firstChunk[partition]; chunk >= 0; chunk = _nextChunk![chunk])
            {
                var length = Math.Min(chunkLength, n - copied);
                keys.AsSpan(copied, length).CopyTo(ChunkSpan(chunk, length));
                copied += length;
            }
        }
        return keys.AsSpan(0, n);
    }

    Span<uint> ChunkSpan(int chunk, int length)
    {
        var position = chunk << _chunkBits;
        return _slabs[position >> _slabBits].AsSpan(position & ((1 << _slabBits) - 1), length);
    }

    /// <param name="release">Frees the sort buffers: no increment follows.</param>
    void SortInMemory(bool release = true)
    {
        if (_sorted)
        {
            return;
        }
        _sorted = true;
        if (_dictionary is { } dictionary)
        {
            var keys = new long[dictionary.Count];
            var counts = new int[dictionary.Count];
            var n = 0;
            foreach (var (key, count) in dictionary)
            {
                (keys[n], counts[n]) = (key, count);
                n++;
            }
            Array.Sort(keys, counts);
            (_sortedKeys, _sortedCounts, _count) = (keys, counts, n);
            return;
        }
        _count = 0;
        for (var partition = 0; partition < _tail!.Length; partition++)
        {
            var sorted = SortPartition(partition, writeBack: true);
            for (var i = 0; i < sorted.Length; i++)
            {
                if (i == 0 || sorted[i] != sorted[i - 1])
                {
                    _count++;
                }
            }
        }
        if (release)
        {
            (_scratch, _spare) = (null, null);
        }
    }

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

    /// <summary>The sorted pairs in memory, one at a time: equal occurrences counted as they are passed.</summary>
    struct MemoryCursor(PairCounter pairs)
    {
        int _partition = -1;
        int _chunk = -1;
        int _index;
        int _left;
        int _next; // Dictionary: the next pair.

        /// <summary>The next pair's key, or <see cref="ulong.MaxValue"/> at the end.</summary>
        public ulong Peek()
        {
            if (pairs._sortedKeys is { } keys)
            {
                return _next < pairs._count ? (ulong)keys[_next] : ulong.MaxValue;
            }
            if (_left == 0 && !NextPartition())
            {
                return ulong.MaxValue;
            }
            return ((ulong)_partition << (pairs._localBits + pairs._compoundBits)) | Current();
        }

        /// <summary>Passes the pair <see cref="Peek"/> gave; returns its count.</summary>
        public int Take()
        {
            if (pairs._sortedKeys is not null)
            {
                return pairs._sortedCounts![_next++];
            }
            var key = Current();
            var count = 0;
            while (_left > 0 && Current() == key)
            {
                count++;
                _left--;
                if (++_index == 1 << pairs._chunkBits)
                {
                    (_chunk, _index) = (pairs._nextChunk![_chunk], 0);
                }
            }
            return count;
        }

        readonly uint Current()
        {
            var position = (_chunk << pairs._chunkBits) + _index;
            return pairs._slabs[position >> pairs._slabBits][position & ((1 << pairs._slabBits) - 1)];
        }

        bool NextPartition()
        {
            while (++_partition < pairs._tail!.Length)
            {
                if (pairs._length![_partition] > 0)
                {
                    (_chunk, _index, _left) = (pairs._firstChunk![_partition], 0, pairs._length[_partition]);
                    return true;
                }
            }
            _partition = pairs._tail.Length;
            return false;
        }
    }

    /// <summary>A k-way merge of the spilled runs and the sorted pairs in memory.</summary>
    public sealed class PairReader : IDisposable
    {
        readonly PairRunReader[] _runs;
        readonly PriorityQueue<int, ulong> _heads = new();
        readonly int _compoundBits;
        readonly ulong _compoundMask;
        MemoryCursor _memory;

        internal PairReader(PairCounter pairs)
        {
            _memory = new MemoryCursor(pairs);
            _compoundBits = pairs._compoundBits;
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
            var more = MoveNext(out var key, out count);
            userIndex = (int)(key >> _compoundBits);
            compoundId = (int)(key & _compoundMask);
            return more;
        }

        /// <summary>The next pair's packed key (user index, then compound id) and its counts added up; false at the end.</summary>
        internal bool MoveNext(out ulong key, out int count)
        {
            var memoryKey = _memory.Peek();
            key = memoryKey;
            if (_heads.TryPeek(out _, out var runKey) && runKey < key)
            {
                key = runKey;
            }
            if (key == ulong.MaxValue)
            {
                (key, count) = (0, 0);
                return false;
            }
            count = memoryKey == key ? _memory.Take() : 0;
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
