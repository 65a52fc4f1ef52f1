using ExperimentEtl.Model;
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
    public void A_pair_counted_past_its_partitions_buffer_keeps_its_exact_count()
    {
        // 2^20 users and compound ids up to 2^17: 2^24 + 5 occurrences of one pair fill its partition's sort buffer
        // (2^21 at the default budget) eight times over, so it is spilled and its counts added up by the merge.
        using var pairs = new PairCounter(users: 1 << 20, maxCompoundId: 1 << 17);
        const long Total = (1L << 24) + 5;
        for (long i = 1; i <= Total; i++)
        {
            pairs.Increment(1 << 19, 1 << 17);
        }
        pairs.Increment(3, 0);

        Assert.Equal([(3, 0, 1), (1 << 19, 1 << 17, (int)Total)], All(pairs));
        Assert.Equal(8, pairs.SpilledRuns);
    }

    [Fact]
    public void The_partitions_count_every_pair_once()
    {
        using var pairs = new PairCounter(users: 100_000, maxCompoundId: 999);
        for (var i = 0; i < 300_000; i++)
        {
            pairs.Increment(i % 100_000, i % 997); // 300,000 distinct pairs over 25 of the 32 partitions of 4,096 users.
        }
        pairs.Increment(5, 5);

        Assert.Equal((300_000, 300_001L), (pairs.Count, All(pairs).Sum(p => (long)p.Count)));
    }

    [Fact]
    public void Pairs_of_more_than_16_million_users_stay_packed_within_the_budget()
    {
        // 2^25 users: 4,096 partitions of 16,384 users. A dictionary (48 bytes a pair) would spill twice in this share.
        var random = new Random(9);
        var occurrences = Enumerable.Range(0, 100_000).Select(_ => (User: random.Next(1 << 25), Compound: random.Next(1001))).ToList();
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;

        using (var pairs = new PairCounter(users: 1 << 25, maxCompoundId: 1000, new MemoryBudget(8 << 20, spillParent)))
        {
            foreach (var (user, compound) in occurrences)
            {
                pairs.Increment(user, compound);
            }

            Assert.Equal(occurrences.GroupBy(o => o).OrderBy(g => g.Key.User).ThenBy(g => g.Key.Compound)
                .Select(g => (g.Key.User, g.Key.Compound, g.Count())), All(pairs));
            Assert.Equal(0, pairs.SpilledRuns);
        }
        Directory.Delete(spillParent);
    }

    [Theory]
    [InlineData(20_000, 999, 1 << 20, false, 1)]         // 8 partitions; the pool of chunks fills: whole spills.
    [InlineData(20_000, 999, 1 << 20, true, 2)]          // A few users own most occurrences: their partition's sort buffer fills first.
    [InlineData(5_000, int.MaxValue, 1 << 20, false, 3)] // 13 + 31 bits: 4,096 partitions of 2 users.
    [InlineData(5_000, int.MaxValue, 1 << 20, true, 4)]
    [InlineData(3, 7, 1 << 18, true, 5)]                 // One partition: its sort buffer (2,048) fills ~195 times, so the runs are compacted.
    public void Pairs_read_back_with_the_counts_of_a_naive_computation_in_key_order(int users, int maxCompoundId, long budgetBytes, bool skewed, int seed)
    {
        var random = new Random(seed);
        // Few compounds a user in the skewed case: long counts and ties; spread over the whole id range otherwise.
        int[] compounds = skewed ? [0, 1, 2, maxCompoundId] : [.. Enumerable.Range(0, 2000).Select(_ => random.Next(maxCompoundId)), maxCompoundId, 0];
        var occurrences = Enumerable.Range(0, 400_000).Select(_ => (
            User: skewed ? (int)(Math.Pow(random.NextDouble(), 4) * users) : random.Next(users),
            Compound: compounds[random.Next(compounds.Length)])).ToList();
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;

        using (var pairs = new PairCounter(users, maxCompoundId, new MemoryBudget(budgetBytes, spillParent)))
        {
            foreach (var (user, compound) in occurrences)
            {
                pairs.Increment(user, compound);
            }

            var expected = occurrences.GroupBy(o => o).OrderBy(g => g.Key.User).ThenBy(g => g.Key.Compound)
                .Select(g => (g.Key.User, g.Key.Compound, g.Count())).ToList();
            Assert.Equal(expected, All(pairs));
            Assert.Equal(expected, All(pairs)); // Read back as often as needed.
            Assert.True(pairs.SpilledRuns > 1, $"{pairs.SpilledRuns} runs spilled");
            Assert.Single(Directory.EnumerateDirectories(spillParent, MemoryBudget.SpillPrefix + "*"));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(spillParent));
        Directory.Delete(spillParent);
    }

    [Theory]
    [InlineData(7)]    // A 4 KB budget: a sort buffer of 32, so 20,000 occurrences make 625 spills, ten times the limit.
    [InlineData(null)] // The dictionary fallback: a spill per 21 distinct pairs.
    public void Many_spills_keep_at_most_the_fan_in_limit_of_runs_on_disk(int? maxCompoundId)
    {
        var random = new Random(11);
        var occurrences = Enumerable.Range(0, 20_000).Select(_ => (User: random.Next(3), Compound: random.Next(8))).ToList();
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;

        using (var pairs = new PairCounter(users: 3, maxCompoundId, new MemoryBudget(4096, spillParent)))
        {
            var (spills, mostRuns) = (0, 0);
            foreach (var (user, compound) in occurrences)
            {
                pairs.Increment(user, compound);
                if (pairs.SpilledRuns != spills)
                {
                    spills = pairs.SpilledRuns;
                    var folder = Assert.Single(Directory.EnumerateDirectories(spillParent, MemoryBudget.SpillPrefix + "*"));
                    mostRuns = Math.Max(mostRuns, Directory.EnumerateFiles(folder, "*.run").Count());
                }
            }

            Assert.True(spills > 5 * PairCounter.MaxRuns, $"{spills} spills");
            Assert.InRange(mostRuns, 2, PairCounter.MaxRuns);
            Assert.Equal(occurrences.GroupBy(o => o).OrderBy(g => g.Key.User).ThenBy(g => g.Key.Compound)
                .Select(g => (g.Key.User, g.Key.Compound, g.Count())), All(pairs));
        }
        Assert.Empty(Directory.EnumerateFileSystemEntries(spillParent));
        Directory.Delete(spillParent);
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

    [Fact]
    public void The_count_of_favourite_ties_is_the_number_of_ties_listed()
    {
        var random = new Random(5);
        using var accumulator = new FeatureAccumulator();
        for (var user = 1; user <= 200; user++)
        {
            accumulator.AddUser(user);
        }
        var uses = new Dictionary<(int User, int Compound), int>();
        for (var experiment = 0; experiment < 1000; experiment++)
        {
            var user = random.Next(1, 150);
            int[] compounds = [.. Enumerable.Range(1, 12).Where(_ => random.Next(4) == 0)];
            accumulator.AddExperiment(user, compounds);
            foreach (var compound in compounds)
            {
                uses[(user, compound)] = uses.GetValueOrDefault((user, compound)) + 1;
            }
        }

        var features = accumulator.Build(compoundCount: 12);

        // Counted here from the experiments: per user, the compounds used as often as the most used one.
        var ties = uses.GroupBy(u => u.Key.User).Sum(user => user.Count(u => u.Value == user.Max(x => x.Value)));
        Assert.Equal(ties, features.FavoriteCount);
        Assert.Equal(ties, features.Favorites.Count());
        Assert.True(ties > features.Users.Count(u => u.FavoriteCompoundId is not null));
    }
}
