using System.Numerics;
using System.Runtime.InteropServices;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Counts experiments per (user index, compound id) pair: the state behind each user's favourite compound.
/// </summary>
/// <remarks>
/// When user and compound ids are small enough, each pair takes one 64-bit slot of an open-addressing table
/// (key in the low bits, count in the high bits). Measured at L (6.7M distinct pairs): 2.3 s and 142 MB, against
/// 11–12.6 s and 372 MB for a Dictionary&lt;long, int&gt;, which remains the fallback for large ids or huge counts.
/// </remarks>
public sealed class PairCounter
{
    const double MaxLoad = 0.7;
    const int MinCountBits = 24;

    readonly int _compoundBits;
    readonly int _keyBits;
    readonly ulong _keyMask;
    readonly long _maxPackedCount;
    ulong[]? _slots;
    int _shift;
    Dictionary<long, int>? _dictionary;

    /// <param name="users">How many users (indexes 0 to users - 1) there are.</param>
    /// <param name="maxCompoundId">The largest compound id that can occur, or null when unknown.</param>
    public PairCounter(int users, int? maxCompoundId)
    {
        _compoundBits = maxCompoundId is { } max ? 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(max, 1)) : 32;
        _keyBits = 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(users, 1)) + _compoundBits + 1;
        if (maxCompoundId is null || 64 - _keyBits < MinCountBits)
        {
            _dictionary = [];
            return;
        }
        _keyMask = (1UL << _keyBits) - 1;
        _maxPackedCount = (1L << Math.Min(62, 64 - _keyBits)) - 1;
        _slots = new ulong[1 << 16];
        _shift = 64 - 16;
    }

    public int Count { get; private set; }

    /// <summary>Adds one experiment to the pair's count. <paramref name="experimentsSoFar"/> bounds any count.</summary>
    public void Increment(int userIndex, int compoundId, long experimentsSoFar)
    {
        if (_slots is null)
        {
            CollectionsMarshal.GetValueRefOrAddDefault(_dictionary!, ((long)userIndex << 32) | (uint)compoundId, out var exists)++;
            if (!exists)
            {
                Count++;
            }
            return;
        }
        if (experimentsSoFar >= _maxPackedCount)
        {
            MoveToDictionary(); // A count could outgrow its bits: keep counting exactly, in the roomier structure.
            Increment(userIndex, compoundId, experimentsSoFar);
            return;
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
                slot = key | (1UL << _keyBits);
                if (++Count > slots.Length * MaxLoad)
                {
                    Grow();
                }
                return;
            }
            if ((slot & _keyMask) == key)
            {
                slot += 1UL << _keyBits;
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
            var i = (int)(((slot & _keyMask) * 0x9E3779B97F4A7C15UL) >> _shift);
            while (slots[i] != 0)
            {
                i = (i + 1) & mask;
            }
            slots[i] = slot;
        }
        _slots = slots;
    }

    void MoveToDictionary()
    {
        var dictionary = new Dictionary<long, int>(Count);
        ForEach((index, compoundId, count) => dictionary[((long)index << 32) | (uint)compoundId] = count);
        (_dictionary, _slots) = (dictionary, null);
    }

    /// <summary>Visits every pair once: (user index, compound id, experiments), in no particular order.</summary>
    public void ForEach(Action<int, int, int> visit)
    {
        if (_slots is null)
        {
            foreach (var (key, count) in _dictionary!)
            {
                visit((int)(key >> 32), (int)(uint)key, count);
            }
            return;
        }
        var compoundMask = (1UL << _compoundBits) - 1;
        foreach (var slot in _slots)
        {
            if (slot != 0)
            {
                var key = (slot & _keyMask) - 1;
                visit((int)(key >> _compoundBits), (int)(key & compoundMask), (int)(slot >> _keyBits));
            }
        }
    }
}
