using System.Numerics;
using System.Runtime.InteropServices;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Counts experiments per (user index, compound id) pair: the state behind each user's favourite compound. Within a
/// memory budget: when its share is full the pairs so far are written to disk as a sorted run, and the runs are merged
/// when the pairs are read back in (user index, compound id) order. At most <see cref="MaxRuns"/> runs exist at once:
/// the spill that would exceed them merges the runs and the pairs in memory into one run instead.
/// </summary>
/// <remarks>
/// This file counts in memory; PairCounter.Spill.cs writes the pairs to disk, PairCounter.Merge.cs reads them back
/// merged, and PairRunFile.cs holds the format of a spilled run.
/// <para>
/// When a pair fits 32 bits once the high bits of its user index are dropped, each occurrence is appended (4 bytes) to
/// the buffer of its partition, a range of users; counting is left to the end (or the spill), where each partition is
/// radix sorted in the cache and equal keys are counted in one pass. Appending writes sequentially where a hash table
/// took a cache and TLB miss per occurrence, and the sorting it needed anyway now happens in cache-sized pieces.
/// Measured at L (22M occurrences, 6.7M distinct pairs): see docs/benchmarks.md. A Dictionary&lt;long, int&gt;
/// remains the fallback for ids too large to pack.
/// </para>
/// </remarks>
public sealed partial class PairCounter : IDisposable
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

    /// <summary>Deletes the spilled runs.</summary>
    public void Dispose()
    {
        _spill?.Dispose();
        _spill = null;
    }
}
