using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>Spilling: the pairs in memory written to disk as a sorted run, and the runs compacted into one.</summary>
public sealed partial class PairCounter
{
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
}
