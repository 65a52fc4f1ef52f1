using System.Numerics;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Bench.Profile;

/// <summary>The feature state alone, on rows already in memory: the service's FeatureAccumulator beside a compact alternative.</summary>
static class FeatureStages
{
    /// <summary>FeatureAccumulator as the pipeline drives it: AddUser for every user, AddExperiment for every experiment, Build.</summary>
    public static string Accumulator(Loaded data, out DataSetFeatures built)
    {
        var before = Measure.LiveBytes();
        var features = new FeatureAccumulator();
        foreach (var user in data.Users)
        {
            features.AddUser(user.UserId);
        }
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            features.AddExperiment(data.ExperimentUsers[i], data.CompoundsOf(i));
        }
        var live = Measure.LiveBytes() - before;
        built = features.Build(data.Compounds.Length);
        GC.KeepAlive(features);
        return Measure.Format($"state before Build {live / 1e6:F0} MB; {built.ActiveUserCount:N0} active users");
    }

    /// <summary>
    /// The alternative: (user index, compound id, count) packed in one 64-bit slot of an open-addressing table,
    /// and users indexed by an array when ids are dense. Checked against FeatureAccumulator's answer.
    /// </summary>
    public static string Packed(Loaded data, DataSetFeatures expected)
    {
        var before = Measure.LiveBytes();
        var maxUserId = 0;
        foreach (var user in data.Users)
        {
            maxUserId = Math.Max(maxUserId, user.UserId);
        }
        var maxCompoundId = 0;
        foreach (var compound in data.Compounds)
        {
            maxCompoundId = Math.Max(maxCompoundId, compound.CompoundId);
        }
        // Dense ids (the usual case): an array maps a user id to its index; otherwise a dictionary would.
        var userIndex = new int[maxUserId + 1];
        var userIds = new int[data.Users.Length];
        for (var i = 0; i < data.Users.Length; i++)
        {
            userIndex[data.Users[i].UserId] = i;
            userIds[i] = data.Users[i].UserId;
        }
        var experimentCounts = new int[data.Users.Length];
        var pairs = new PackedPairCounter(data.Users.Length, maxCompoundId, data.ExperimentCount);
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            var index = userIndex[data.ExperimentUsers[i]];
            experimentCounts[index]++;
            foreach (var compoundId in data.CompoundsOf(i))
            {
                pairs.Add(index, compoundId);
            }
        }
        var live = Measure.LiveBytes() - before;

        var bestCompound = new int[userIds.Length];
        var bestCount = new int[userIds.Length];
        pairs.ForEach((index, compoundId, count) =>
        {
            if (count > bestCount[index] || (count == bestCount[index] && compoundId < bestCompound[index]))
            {
                bestCount[index] = count;
                bestCompound[index] = compoundId;
            }
        });
        var mismatches = 0;
        for (var i = 0; i < userIds.Length; i++)
        {
            var want = expected.Users[i];
            var favourite = experimentCounts[i] > 0 ? bestCompound[i] : (int?)null;
            if (want.UserId != userIds[i] || want.ExperimentCount != experimentCounts[i] || want.FavoriteCompoundId != favourite)
            {
                mismatches++;
            }
        }
        return Measure.Format(
            $"state {live / 1e6:F0} MB; {pairs.Count:N0} distinct (user, compound) pairs in {pairs.Capacity:N0} slots; {mismatches} mismatches with FeatureAccumulator");
    }
}

/// <summary>
/// Counts (user index, compound id) pairs in one ulong per slot: the key in the low bits (plus one, so 0 is empty),
/// the count in the high bits. Linear probing, grown at 70 % load.
/// </summary>
sealed class PackedPairCounter
{
    readonly int _compoundBits;
    readonly int _keyBits;
    readonly ulong _keyMask;
    ulong[] _slots;
    int _shift;

    /// <param name="maxCount">The largest count a pair can reach: the number of experiments.</param>
    public PackedPairCounter(int users, int maxCompoundId, long maxCount)
    {
        _compoundBits = 64 - BitOperations.LeadingZeroCount((ulong)maxCompoundId);
        var userBits = 64 - BitOperations.LeadingZeroCount((ulong)Math.Max(1, users));
        _keyBits = userBits + _compoundBits + 1;
        if (64 - _keyBits < 64 - BitOperations.LeadingZeroCount((ulong)maxCount))
        {
            throw new NotSupportedException("ids too large for a packed slot; a two-array table would be needed");
        }
        _keyMask = (1UL << _keyBits) - 1;
        _slots = new ulong[1 << 16];
        _shift = 64 - 16;
    }

    public int Count { get; private set; }

    public int Capacity => _slots.Length;

    public void Add(int userIndex, int compoundId)
    {
        var key = (((ulong)userIndex << _compoundBits) | (uint)compoundId) + 1;
        var mask = _slots.Length - 1;
        var i = (int)((key * 0x9E3779B97F4A7C15UL) >> _shift);
        while (true)
        {
            ref var slot = ref _slots[i];
            if (slot == 0)
            {
                slot = key | (1UL << _keyBits);
                if (++Count > _slots.Length / 10 * 7)
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
        var old = _slots;
        _slots = new ulong[old.Length * 2];
        _shift--;
        var mask = _slots.Length - 1;
        foreach (var slot in old)
        {
            if (slot == 0)
            {
                continue;
            }
            var i = (int)(((slot & _keyMask) * 0x9E3779B97F4A7C15UL) >> _shift);
            while (_slots[i] != 0)
            {
                i = (i + 1) & mask;
            }
            _slots[i] = slot;
        }
    }

    public void ForEach(Action<int, int, int> visit)
    {
        var compoundMask = (1UL << _compoundBits) - 1;
        foreach (var slot in _slots)
        {
            if (slot == 0)
            {
                continue;
            }
            var key = (slot & _keyMask) - 1;
            visit((int)(key >> _compoundBits), (int)(key & compoundMask), (int)(slot >> _keyBits));
        }
    }
}
