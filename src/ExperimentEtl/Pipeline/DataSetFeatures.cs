namespace ExperimentEtl.Pipeline;

/// <summary>The derived features of one user.</summary>
/// <param name="FavoriteCompoundId">The compound used in most of the user's experiments (ties: the lowest id); null without experiments.</param>
public readonly record struct UserFeature(int UserId, int ExperimentCount, int? FavoriteCompoundId);

/// <summary>A compound tied for a user's favourite, with the number of the user's experiments that used it.</summary>
public readonly record struct FavoriteCompound(int UserId, int CompoundId, int Experiments);

/// <summary>How much a compound was used: experiments that listed it, and distinct users who ran those.</summary>
public readonly record struct CompoundFeature(int CompoundId, long Experiments, int Users);

/// <summary>Everything a run derives from the data, ready to be stored beside it.</summary>
public sealed class DataSetFeatures(
    long userCount,
    long compoundCount,
    long experimentCount,
    long activeUserCount,
    IReadOnlyList<UserFeature> users,
    IReadOnlyList<FavoriteCompound> favorites,
    IReadOnlyList<CompoundFeature> compounds)
{
    public long UserCount { get; } = userCount;

    public long CompoundCount { get; } = compoundCount;

    public long ExperimentCount { get; } = experimentCount;

    /// <summary>Users with at least one experiment.</summary>
    public long ActiveUserCount { get; } = activeUserCount;

    public IReadOnlyList<UserFeature> Users { get; } = users;

    /// <summary>Every compound tied for each user's favourite (the favourite itself included).</summary>
    public IReadOnlyList<FavoriteCompound> Favorites { get; } = favorites;

    /// <summary>Usage of the compounds that experiments listed; unused compounds are absent.</summary>
    public IReadOnlyList<CompoundFeature> Compounds { get; } = compounds;
}

/// <summary>
/// Computes the per-user features while experiments stream past, in memory proportional to users and
/// distinct (user, compound) pairs, never to experiments.
/// </summary>
public sealed class FeatureAccumulator
{
    readonly List<int> _userIds = [];
    readonly Dictionary<int, int> _userIndex = [];
    int[] _experimentCounts = new int[1024];

    PairCounter? _pairs;
    int? _maxCompoundId;

    public long ExperimentCount { get; private set; }

    public int UserCount => _userIds.Count;

    /// <summary>Registers a user; false when the id is already registered.</summary>
    public bool AddUser(int userId)
    {
        if (!_userIndex.TryAdd(userId, _userIds.Count))
        {
            return false;
        }
        _userIds.Add(userId);
        if (_userIds.Count > _experimentCounts.Length)
        {
            Array.Resize(ref _experimentCounts, _experimentCounts.Length * 2);
        }
        return true;
    }

    public bool HasUser(int userId) => IndexOf(userId) >= 0;

    /// <summary>
    /// Declares that every user is registered and gives the largest compound id: lookups and pair counts can then take
    /// their compact forms (an array indexed by user id when ids are dense; packed pair slots).
    /// </summary>
    public void StartExperiments(int maxCompoundId)
    {
        _maxCompoundId = maxCompoundId;
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
    int[]? _denseIndex;

    int IndexOf(int userId) =>
        _denseIndex is { } dense
            ? ((uint)userId < (uint)dense.Length ? dense[userId] - 1 : -1)
            : _userIndex.GetValueOrDefault(userId, -1);

    /// <summary>Counts one experiment of a registered user; <paramref name="distinctCompoundIds"/> holds no repeats.</summary>
    public void AddExperiment(int userId, ReadOnlySpan<int> distinctCompoundIds)
    {
        var index = IndexOf(userId);
        if (index < 0)
        {
            throw new ArgumentException($"user {userId} is not registered", nameof(userId));
        }
        _experimentCounts[index]++;
        ExperimentCount++;
        _pairs ??= new PairCounter(_userIds.Count, _maxCompoundId);
        foreach (var compoundId in distinctCompoundIds)
        {
            _pairs.Increment(index, compoundId, ExperimentCount);
        }
    }

    public DataSetFeatures Build(long compoundCount)
    {
        var userCount = _userIds.Count;
        var bestCompound = new int[userCount];
        var bestCount = new int[userCount];
        var pairs = _pairs ?? new PairCounter(userCount, _maxCompoundId);
        pairs.ForEach((index, compoundId, count) =>
        {
            if (count > bestCount[index] || (count == bestCount[index] && compoundId < bestCompound[index]))
            {
                bestCount[index] = count;
                bestCompound[index] = compoundId;
            }
        });
        var favorites = new List<FavoriteCompound>(userCount);
        var compounds = new Dictionary<int, (long Experiments, int Users)>();
        pairs.ForEach((index, compoundId, count) =>
        {
            if (count == bestCount[index])
            {
                favorites.Add(new FavoriteCompound(_userIds[index], compoundId, count));
            }
            ref var usage = ref System.Runtime.InteropServices.CollectionsMarshal.GetValueRefOrAddDefault(compounds, compoundId, out _);
            usage = (usage.Experiments + count, usage.Users + 1);
        });
        // In key order (the pair table hands them out at random): at 10M experiments PostgreSQL then copies and keys
        // the 1.7M rows in 1.6 s instead of 2–2.4 s, more than this sort costs.
        favorites.Sort(static (a, b) => a.UserId != b.UserId ? a.UserId.CompareTo(b.UserId) : a.CompoundId.CompareTo(b.CompoundId));
        var users = new UserFeature[userCount];
        long active = 0;
        for (var i = 0; i < userCount; i++)
        {
            var experiments = _experimentCounts[i];
            if (experiments > 0)
            {
                active++;
            }
            users[i] = new UserFeature(_userIds[i], experiments, experiments > 0 ? bestCompound[i] : null);
        }
        return new DataSetFeatures(userCount, compoundCount, ExperimentCount, active, users, favorites,
            [.. compounds.Select(c => new CompoundFeature(c.Key, c.Value.Experiments, c.Value.Users))]);
    }
}
