using ExperimentEtl.Pipeline;
using ExperimentEtl.Tests.Csv;

namespace ExperimentEtl.Tests.Pipeline;

/// <summary>Per-user features: experiment count and favourite compound (most experiments, ties to the lowest id).</summary>
public sealed class FeatureAccumulatorTests
{
    static Dictionary<int, UserFeature> ByUser(DataSetFeatures features) => features.Users.ToDictionary(u => u.UserId);

    /// <summary>Every pair as read back, in the order read.</summary>
    static List<(int UserIndex, int CompoundId, int Count)> All(PairCounter pairs)
    {
        var all = new List<(int, int, int)>();
        using var reader = pairs.Read();
        while (reader.MoveNext(out var user, out var compound, out var count))
        {
            all.Add((user, compound, count));
        }
        return all;
    }

    [Fact]
    public void Favourite_is_the_compound_in_most_experiments()
    {
        using var accumulator = new FeatureAccumulator();
        accumulator.AddUser(1);
        accumulator.AddExperiment(1, [5, 9]);
        accumulator.AddExperiment(1, [9]);
        accumulator.AddExperiment(1, [2, 5, 9]);

        var user = Assert.Single(accumulator.Build(compoundCount: 3).Users);

        Assert.Equal(new UserFeature(1, 3, 9), user);
    }

    [Fact]
    public void Ties_go_to_the_lowest_compound_id_whatever_the_order_seen()
    {
        using var accumulator = new FeatureAccumulator();
        foreach (var id in new[] { 1, 2, 3, 4 })
        {
            accumulator.AddUser(id);
        }
        accumulator.AddExperiment(1, [7, 3]);              // 3 and 7 once each → 3
        accumulator.AddExperiment(2, [8]);
        accumulator.AddExperiment(2, [4, 8]);
        accumulator.AddExperiment(2, [4]);                 // 4 and 8 twice each → 4
        accumulator.AddExperiment(3, [int.MaxValue, 0]);   // 0 is a valid id and the lowest → 0
        accumulator.AddExperiment(4, [6]);
        accumulator.AddExperiment(4, [6, 1]);              // 6 twice beats 1 once, although 1 is lower

        var users = ByUser(accumulator.Build(compoundCount: 9));

        Assert.Equal(3, users[1].FavoriteCompoundId);
        Assert.Equal(4, users[2].FavoriteCompoundId);
        Assert.Equal(0, users[3].FavoriteCompoundId);
        Assert.Equal(6, users[4].FavoriteCompoundId);
    }

    [Fact]
    public void Users_without_experiments_have_count_0_and_no_favourite()
    {
        using var accumulator = new FeatureAccumulator();
        accumulator.AddUser(10);
        accumulator.AddUser(20);
        accumulator.AddUser(30);
        accumulator.AddExperiment(20, [1]);

        var features = accumulator.Build(compoundCount: 1);

        Assert.Equal([new UserFeature(10, 0, null), new UserFeature(20, 1, 1), new UserFeature(30, 0, null)], features.Users);
        Assert.Equal((3L, 1L, 1L, 1L), (features.UserCount, features.ExperimentCount, features.ActiveUserCount, features.CompoundCount));
    }

    [Fact]
    public void No_users_at_all_builds_empty_features()
    {
        using var accumulator = new FeatureAccumulator();
        var features = accumulator.Build(compoundCount: 0);

        Assert.Empty(features.Users);
        Assert.Equal((0L, 0L, 0L), (features.UserCount, features.ExperimentCount, features.ActiveUserCount));
    }

    [Fact]
    public void Registering_a_user_twice_is_refused_and_counts_once()
    {
        using var accumulator = new FeatureAccumulator();

        Assert.True(accumulator.AddUser(5));
        Assert.False(accumulator.AddUser(5));
        Assert.True(accumulator.HasUser(5));
        Assert.False(accumulator.HasUser(6));
        Assert.Equal(1, accumulator.UserCount);
    }

    [Fact]
    public void Users_indexed_by_an_array_until_a_sparse_id_keep_their_ids_order_and_uniqueness()
    {
        using var accumulator = new FeatureAccumulator();
        Assert.True(accumulator.AddUser(1));
        Assert.True(accumulator.AddUser(3000));
        Assert.True(accumulator.AddUser(int.MaxValue)); // Too large for the array: a dictionary from here on.
        Assert.True(accumulator.AddUser(2));
        Assert.False(accumulator.AddUser(3000));
        Assert.False(accumulator.AddUser(int.MaxValue));
        accumulator.StartExperiments(maxCompoundId: 4);
        accumulator.AddExperiment(int.MaxValue, [4]);
        accumulator.AddExperiment(3000, [1, 2]);

        Assert.False(accumulator.HasUser(4));
        Assert.Equal([new UserFeature(1, 0, null), new UserFeature(3000, 1, 1), new UserFeature(int.MaxValue, 1, 4), new UserFeature(2, 0, null)],
            accumulator.Build(compoundCount: 4).Users);
    }

    [Fact]
    public void Id_repeated_inside_one_experiment_counts_once_from_file_to_feature()
    {
        // Counted per occurrence, compound 3 (3 occurrences in one experiment) would win; per experiment, 1 does (2 experiments).
        const string experiments = "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,3;3;3,10\n2,1,1;2,10\n3,1,1,10\n4,2,2;2;1;1,10\n";
        var (rows, errors) = TypedReaderTests.ReadExperiments(experiments);
        Assert.Empty(errors);
        using var accumulator = new FeatureAccumulator();
        accumulator.AddUser(1);
        accumulator.AddUser(2);
        foreach (var row in rows)
        {
            accumulator.AddExperiment(row.UserId, row.CompoundIds);
        }

        var users = ByUser(accumulator.Build(compoundCount: 3));

        Assert.Equal(new UserFeature(1, 3, 1), users[1]);
        Assert.Equal(new UserFeature(2, 1, 1), users[2]); // 2 and 1 once each → lowest.
    }

    [Fact]
    public void Average_is_experiments_over_all_users_including_inactive_ones()
    {
        using var accumulator = new FeatureAccumulator();
        for (var id = 1; id <= 4; id++)
        {
            accumulator.AddUser(id);
        }
        accumulator.AddExperiment(1, [1]);
        accumulator.AddExperiment(1, [2]);
        accumulator.AddExperiment(2, [1]);

        var features = accumulator.Build(compoundCount: 2);

        Assert.Equal(0.75, (double)features.ExperimentCount / features.UserCount, 10);
        Assert.Equal(2, features.ActiveUserCount);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(42)]
    [InlineData(1234)]
    [InlineData(99991)]
    public void Random_data_gives_the_same_features_as_a_naive_computation(int seed) => CheckRandom(seed, packed: false);

    [Theory]
    [InlineData(3)]
    [InlineData(77)]
    [InlineData(2024)]
    public void Random_data_gives_the_same_features_with_the_compact_pair_table(int seed) => CheckRandom(seed, packed: true);

    [Fact]
    public void The_compact_pair_table_keeps_exact_counts_past_the_bits_of_a_slot()
    {
        // 2^20 users and compound ids up to 2^17 leave 24 bits for a count: the 2^24th experiment spills the table.
        using var pairs = new PairCounter(users: 1 << 20, maxCompoundId: 1 << 17);
        const long Total = (1L << 24) + 5;
        for (long i = 1; i <= Total; i++)
        {
            pairs.Increment(1 << 19, 1 << 17, i);
        }
        pairs.Increment(3, 0, Total + 1);

        Assert.Equal([(3, 0, 1), (1 << 19, 1 << 17, (int)Total)], All(pairs));
    }

    [Fact]
    public void The_compact_pair_table_grows_without_losing_a_pair()
    {
        using var pairs = new PairCounter(users: 100_000, maxCompoundId: 999);
        for (var i = 0; i < 300_000; i++)
        {
            pairs.Increment(i % 100_000, i % 997, i + 1); // 300,000 distinct pairs: the table doubles several times.
        }
        pairs.Increment(5, 5, 300_001);

        Assert.Equal((300_000, 300_001L), (pairs.Count, All(pairs).Sum(p => (long)p.Count)));
    }

    [Theory]
    [InlineData(5, false, true)]
    [InlineData(6, true, true)]
    [InlineData(77, true, false)]
    [InlineData(2024, false, false)]
    public void Spilled_pairs_give_the_features_of_memory_and_of_a_naive_computation(int seed, bool uniform, bool packed)
    {
        // Skewed: a few users run most experiments over a few compounds (long counts, frequent ties among few).
        // Uniform: every user, compounds spread over the whole range (many distinct pairs, counts of 1, ties everywhere).
        var random = new Random(seed);
        var userIds = Enumerable.Range(0, 1500).Select(i => packed ? i * 2 + 1 : i * 1_000_003 + 7).ToList();
        var compoundPool = Enumerable.Range(0, uniform ? 400 : 12).Select(i => i * 5).ToArray();
        var experiments = Enumerable.Range(0, 12_000).Select(_ => (
            UserId: userIds[uniform ? random.Next(userIds.Count) : (int)(Math.Pow(random.NextDouble(), 3) * userIds.Count)],
            CompoundIds: Enumerable.Range(0, random.Next(1, 5)).Select(_ => compoundPool[random.Next(compoundPool.Length)]).Distinct().ToArray())).ToList();
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;

        DataSetFeatures Compute(FeatureAccumulator accumulator)
        {
            foreach (var id in userIds)
            {
                accumulator.AddUser(id);
            }
            if (packed)
            {
                accumulator.StartExperiments(compoundPool.Max());
            }
            foreach (var (userId, compoundIds) in experiments)
            {
                accumulator.AddExperiment(userId, compoundIds);
            }
            return accumulator.Build(compoundPool.Length);
        }

        using var inMemory = new FeatureAccumulator();
        var expected = Compute(inMemory);
        List<FavoriteCompound> spilledFavorites;
        using (var spilling = new FeatureAccumulator(new MemoryBudget(1024, spillParent)))
        {
            var spilled = Compute(spilling);
            Assert.Equal(0, inMemory.SpilledRuns);
            Assert.True(spilling.SpilledRuns > 3, $"{spilling.SpilledRuns} runs spilled");
            Assert.Single(Directory.EnumerateDirectories(spillParent));

            Assert.Equal(expected.Users, spilled.Users);
            spilledFavorites = [.. spilled.Favorites];
            Assert.Equal(expected.Favorites, spilledFavorites);
            Assert.Equal(spilledFavorites, spilled.Favorites); // Read back as often as needed.
            Assert.Equal(expected.Compounds, spilled.Compounds);
            Assert.Equal((expected.UserCount, expected.ExperimentCount, expected.ActiveUserCount), (spilled.UserCount, spilled.ExperimentCount, spilled.ActiveUserCount));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(spillParent));
        Directory.Delete(spillParent);

        // Against LINQ: every compound tied for the most experiments per user (the favourite is the lowest), and usage.
        var counts = experiments.SelectMany(e => e.CompoundIds.Select(c => (e.UserId, Compound: c)))
            .GroupBy(p => p).Select(g => (g.Key.UserId, g.Key.Compound, Count: g.Count())).ToList();
        var ties = counts.GroupBy(c => c.UserId).SelectMany(g => g.Where(c => c.Count == g.Max(x => x.Count)))
            .Select(c => new FavoriteCompound(c.UserId, c.Compound, c.Count))
            .OrderBy(f => userIds.IndexOf(f.UserId)).ThenBy(f => f.CompoundId).ToList();
        Assert.Equal(ties, spilledFavorites);
        Assert.Equal(userIds.Select(id => new UserFeature(id, experiments.Count(e => e.UserId == id),
            ties.Where(t => t.UserId == id).Select(t => (int?)t.CompoundId).FirstOrDefault())), expected.Users);
        Assert.Equal(counts.GroupBy(c => c.Compound).OrderBy(g => g.Key)
            .Select(g => new CompoundFeature(g.Key, g.Sum(c => (long)c.Count), g.Count())), expected.Compounds);
        Assert.Contains(expected.Users, u => ties.Count(t => t.UserId == u.UserId) > 1);
    }

    static void CheckRandom(int seed, bool packed)
    {
        var random = new Random(seed);
        var userIds = Enumerable.Range(0, random.Next(0, 3000))
            // The compact variant has dense ids (users indexed by an array); the other mixes in huge ones (a dictionary).
            .Select(_ => !packed && random.Next(4) == 0 ? random.Next() : random.Next(0, 5000))
            .Distinct()
            .ToList();
        // Few compounds make ties frequent; a few huge and zero ids exercise the edges of the key packing.
        int[] compoundPool = packed
            ? [0, 1 << 20, .. Enumerable.Range(1, random.Next(1, 12))]
            : [0, int.MaxValue, int.MaxValue - 1, 1 << 26, .. Enumerable.Range(1, random.Next(1, 12))];
        var experiments = new List<(int UserId, int[] CompoundIds)>();
        if (userIds.Count > 0)
        {
            var experimentCount = random.Next(0, 6000);
            for (var i = 0; i < experimentCount; i++)
            {
                // Skewed towards few users, so some users have many experiments and some none.
                var user = userIds[(int)(Math.Pow(random.NextDouble(), 2) * userIds.Count)];
                var compounds = Enumerable.Range(0, random.Next(1, 5)).Select(_ => compoundPool[random.Next(compoundPool.Length)]).Distinct().ToArray();
                experiments.Add((user, compounds));
            }
        }

        using var accumulator = new FeatureAccumulator();
        foreach (var id in userIds)
        {
            Assert.True(accumulator.AddUser(id));
        }
        if (packed)
        {
            accumulator.StartExperiments(compoundPool.Max());
        }
        foreach (var (userId, compoundIds) in experiments)
        {
            accumulator.AddExperiment(userId, compoundIds);
        }
        var features = accumulator.Build(compoundCount: compoundPool.Length);

        var byUser = experiments.ToLookup(e => e.UserId);
        var expected = userIds.Select(id =>
        {
            var own = byUser[id].ToList();
            int? favourite = own.Count == 0
                ? null
                : own.SelectMany(e => e.CompoundIds.Distinct())
                    .GroupBy(c => c)
                    .OrderByDescending(g => g.Count())
                    .ThenBy(g => g.Key)
                    .First().Key;
            return new UserFeature(id, own.Count, favourite);
        }).ToList();

        Assert.Equal(expected, features.Users);
        Assert.Equal(userIds.Count, features.UserCount);
        Assert.Equal(experiments.Count, features.ExperimentCount);
        Assert.Equal(expected.Count(u => u.ExperimentCount > 0), features.ActiveUserCount);
        Assert.Equal(compoundPool.Length, features.CompoundCount);
    }
}
