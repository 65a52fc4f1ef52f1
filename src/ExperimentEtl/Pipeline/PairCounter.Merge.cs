namespace ExperimentEtl.Pipeline;

/// <summary>Reading back: the pairs in memory and the spilled runs, merged in (user index, compound id) order.</summary>
public sealed partial class PairCounter
{
    /// <summary>
    /// Every pair once, in (user index, compound id) order, with its count over all runs. The counter takes no more
    /// increments after this; it can be read back any number of times.
    /// </summary>
    public PairReader Read()
    {
        SortInMemory();
        return new PairReader(this);
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
