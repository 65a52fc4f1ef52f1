using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Bench.Profile;

/// <summary>The feature state alone, on rows already in memory: the service's FeatureAccumulator, then its PairCounter alone.</summary>
static class FeatureStages
{
    /// <summary>FeatureAccumulator as the pipeline drives it: AddUser for every user, AddExperiment for every experiment, Build.</summary>
    public static string Accumulator(Loaded data, out DataSetFeatures built)
    {
        var before = Measure.LiveBytes();
        var steps = new Steps();
        using var features = new FeatureAccumulator();
        foreach (var user in data.Users)
        {
            features.AddUser(user.UserId);
        }
        features.StartExperiments(data.Compounds.Max(c => c.CompoundId)); // As the pipeline does: the packed pairs.
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            features.AddExperiment(data.ExperimentUsers[i], data.CompoundsOf(i));
        }
        steps.Mark("experiments");
        var live = Measure.LiveBytes() - before;
        steps.Mark("gc");
        built = features.Build(data.Compounds.Length);
        steps.Mark("build");
        var favourites = built.Favorites.Count();
        steps.Mark("favourites");
        GC.KeepAlive(features);
        return Measure.Format($"state before Build {live / 1e6:F0} MB; {built.ActiveUserCount:N0} active users, {favourites:N0} favourites, {features.SpilledRuns} runs; {steps}");
    }

    /// <summary>
    /// The service's <see cref="PairCounter"/> on its own, with users indexed by an array when ids are dense.
    /// Checked against FeatureAccumulator's answer.
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
        using var pairs = new PairCounter(data.Users.Length, maxCompoundId);
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            var index = userIndex[data.ExperimentUsers[i]];
            experimentCounts[index]++;
            foreach (var compoundId in data.CompoundsOf(i))
            {
                pairs.Increment(index, compoundId);
            }
        }
        var live = Measure.LiveBytes() - before;

        var bestCompound = new int[userIds.Length];
        var bestCount = new int[userIds.Length];
        using (var sorted = pairs.Read())
        {
            // In (user, compound) order: the first compound with the most experiments is the lowest of a tie.
            while (sorted.MoveNext(out var index, out var compoundId, out var count))
            {
                if (count > bestCount[index])
                {
                    bestCount[index] = count;
                    bestCompound[index] = compoundId;
                }
            }
        }
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
            $"state {live / 1e6:F0} MB; {pairs.Count:N0} distinct (user, compound) pairs; {mismatches} mismatches with FeatureAccumulator");
    }
}
