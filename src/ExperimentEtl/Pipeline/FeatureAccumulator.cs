using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Computes the per-user features while experiments stream past, in memory proportional to users, never to
/// experiments; the distinct (user, compound) pairs take at most their share of the memory budget and spill to disk
/// beyond it (<see cref="PairCounter"/>).
/// </summary>
/// <remarks>Dispose it once its features are stored: that deletes whatever was spilled.</remarks>
public sealed class FeatureAccumulator(MemoryBudget? budget = null) : IFeatureAccumulator
{
    readonly List<int> _userIds = [];
    readonly Dictionary<int, int> _userIndex = [];
    int[] _experimentCounts = new int[1024];
    long[] _rowFingerprints = new long[1024];
    long[] _experimentsFingerprints = new long[1024];

    PairCounter? _pairs;
    int? _maxCompoundId;

    public long ExperimentCount { get; private set; }

    public int UserCount => _userIds.Count;

    /// <summary>How many sorted runs of pairs went to disk.</summary>
    public int SpilledRuns => _pairs?.SpilledRuns ?? 0;

    /// <summary>Registers a user with the fingerprint of its fields; false when the id is already registered.</summary>
    public bool AddUser(in UserRow row) => AddUser(row.UserId, RowFingerprints.User(row));

    /// <summary>Registers a user; false when the id is already registered.</summary>
    public bool AddUser(int userId, long fingerprint = 0)
    {
        var index = _userIds.Count;
        if (_denseIndex is { } dense)
        {
            if (userId >= 0 && userId < MaxDenseUserId && userId < 4L * (index + 1) + 1024)
            {
                if (userId >= dense.Length)
                {
                    Array.Resize(ref _denseIndex, (int)Math.Min(MaxDenseUserId, Math.Max(userId + 1L, dense.Length * 2L)));
                }
                if (_denseIndex[userId] != 0)
                {
                    return false;
                }
                _denseIndex[userId] = index + 1;
                AddIndex(userId, fingerprint);
                return true;
            }
            // Too sparse (or too large) for an array: a dictionary from here on.
            for (var i = 0; i < _userIds.Count; i++)
            {
                _userIndex.Add(_userIds[i], i);
            }
            _denseIndex = null;
        }
        if (!_userIndex.TryAdd(userId, index))
        {
            return false;
        }
        AddIndex(userId, fingerprint);
        return true;
    }

    void AddIndex(int userId, long fingerprint)
    {
        _userIds.Add(userId);
        if (_userIds.Count > _experimentCounts.Length)
        {
            Array.Resize(ref _experimentCounts, _experimentCounts.Length * 2);
            Array.Resize(ref _rowFingerprints, _experimentCounts.Length);
            Array.Resize(ref _experimentsFingerprints, _experimentCounts.Length);
        }
        _rowFingerprints[_userIds.Count - 1] = fingerprint;
    }

    public bool HasUser(int userId) => IndexOf(userId) >= 0;

    /// <summary>
    /// Declares that every user is registered and gives the largest compound id: lookups and pair counts can then take
    /// their compact forms (an array indexed by user id when ids are dense; pairs packed in 32 bits by partition).
    /// </summary>
    public void StartExperiments(int maxCompoundId)
    {
        _maxCompoundId = maxCompoundId;
        if (_denseIndex is not null)
        {
            return;
        }
        var maxUserId = _userIds.Count == 0 ? 0 : _userIds.Max();
        // Dense enough that an array (4 bytes an id) costs no more than the dictionary (~20 bytes a user).
        if (maxUserId < MaxDenseUserId && maxUserId < 4L * _userIds.Count + 1024)
        {
            _denseIndex = new int[maxUserId + 1];
            for (var i = 0; i < _userIds.Count; i++)
            {
                _denseIndex[_userIds[i]] = i + 1; // 0: no such user.
            }
            _userIndex.Clear();
            _userIndex.TrimExcess();
        }
    }

    const int MaxDenseUserId = 1 << 26;

    // While ids come dense (the usual export: ascending from 1), users are indexed by an array from the start (4 bytes
    // an id instead of a dictionary's ~20 bytes a user, 60 MB at 3M users).
    int[]? _denseIndex = new int[1024];

    int IndexOf(int userId) =>
        _denseIndex is { } dense
            ? ((uint)userId < (uint)dense.Length ? dense[userId] - 1 : -1)
            : _userIndex.GetValueOrDefault(userId, -1);

    /// <summary>Counts one experiment of a registered user and adds its fingerprint to the user's.</summary>
    public void AddExperiment(in ExperimentRow row) =>
        AddExperiment(row.UserId, row.CompoundIds, RowFingerprints.Experiment(row.ExperimentId, row.RunTime, row.CompoundIds));

    /// <summary>Counts one experiment of a registered user; <paramref name="distinctCompoundIds"/> holds no repeats.</summary>
    public void AddExperiment(int userId, ReadOnlySpan<int> distinctCompoundIds, long fingerprint = 0)
    {
        var index = IndexOf(userId);
        if (index < 0)
        {
            throw new ArgumentException($"user {userId} is not registered", nameof(userId));
        }
        _experimentCounts[index]++;
        _experimentsFingerprints[index] = unchecked(_experimentsFingerprints[index] + fingerprint);
        ExperimentCount++;
        _pairs ??= new PairCounter(_userIds.Count, _maxCompoundId, budget);
        foreach (var compoundId in distinctCompoundIds)
        {
            _pairs.Increment(index, compoundId);
        }
    }

    /// <summary>
    /// One pass over the pairs in (user, compound) order gives each user's favourite (the first compound with the most
    /// experiments: ties go to the lowest id) and each compound's usage; the favourites are read in a second pass
    /// when they are written.
    /// </summary>
    public DataSetFeatures Build(long compoundCount)
    {
        var userCount = _userIds.Count;
        var bestCompound = new int[userCount];
        var bestCount = new int[userCount];
        // Pairs come grouped by user, so each user's ties for the favourite are counted in the same pass.
        long favorites = 0;
        var ties = 0;
        var tiesOf = -1;
        _pairs ??= new PairCounter(userCount, _maxCompoundId, budget);
        var compounds = new Dictionary<int, (long Experiments, int Users)>();
        using (var pairs = _pairs.Read())
        {
            while (pairs.MoveNext(out var index, out var compoundId, out var count))
            {
                if (index != tiesOf)
                {
                    (favorites, ties, tiesOf) = (favorites + ties, 0, index);
                }
                if (count > bestCount[index])
                {
                    bestCount[index] = count;
                    bestCompound[index] = compoundId;
                    ties = 1;
                }
                else if (count == bestCount[index])
                {
                    ties++;
                }
                ref var usage = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(compounds, compoundId, out _);
                usage = (usage.Experiments + count, usage.Users + 1);
            }
        }
        long active = 0;
        for (var i = 0; i < userCount; i++)
        {
            if (_experimentCounts[i] > 0)
            {
                active++;
            }
        }
        return new DataSetFeatures(userCount, compoundCount, ExperimentCount, active,
            new UserFeatures(_userIds, _experimentCounts, bestCompound, _rowFingerprints, _experimentsFingerprints),
            Favorites(_pairs, _userIds, bestCount),
            [.. compounds.OrderBy(c => c.Key).Select(c => new CompoundFeature(c.Key, c.Value.Experiments, c.Value.Users))])
        {
            FavoriteCount = favorites + ties,
        };
    }

    static IEnumerable<FavoriteCompound> Favorites(PairCounter pairCounter, List<int> userIds, int[] bestCount)
    {
        using var pairs = pairCounter.Read();
        while (pairs.MoveNext(out var index, out var compoundId, out var count))
        {
            if (count == bestCount[index])
            {
                yield return new FavoriteCompound(userIds[index], compoundId, count);
            }
        }
    }

    public void Dispose() => _pairs?.Dispose();

    /// <summary>The users' features, made on demand from the per-user arrays rather than held as 16-byte records.</summary>
    sealed class UserFeatures(List<int> userIds, int[] experimentCounts, int[] bestCompound, long[] rowFingerprints, long[] experimentsFingerprints)
        : IReadOnlyList<UserFeature>
    {
        public int Count => userIds.Count;

        public UserFeature this[int index]
        {
            get
            {
                var experiments = experimentCounts[index];
                return new UserFeature(userIds[index], experiments, experiments > 0 ? bestCompound[index] : null,
                    rowFingerprints[index], experimentsFingerprints[index]);
            }
        }

        public IEnumerator<UserFeature> GetEnumerator()
        {
            for (var i = 0; i < userIds.Count; i++)
            {
                yield return this[i];
            }
        }

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
