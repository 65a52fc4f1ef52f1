namespace ExperimentEtl.Tests.Changes;

/// <summary>
/// The change a load should record, computed from the two data sets alone (plain LINQ over <see cref="ExportData"/>,
/// none of the product's code). Rows are matched by id; a row is changed when a stored field differs (an experiment's
/// compounds compared as a set); a user's experiment count and favourite compound (the compound in most of the user's
/// experiments, ties to the lowest id, null without experiments) are compared for users present in both.
/// </summary>
public static class ChangeOracle
{
    public const string Added = "added";
    public const string Removed = "removed";
    public const string Changed = "changed";
    public const string FavCompoundChanged = "fav_compound_changed";
    public const string CountChanged = "count_changed";

    /// <param name="before">The previous successful load's data set; null for the first load.</param>
    public static ExpectedChange Compute(ExportData? before, ExportData after)
    {
        ArgumentNullException.ThrowIfNull(after);
        var old = before is null ? null : new Stored(before);
        var now = new Stored(after);
        var empty = new Stored(new ExportData());

        var users = Diff(old?.Users ?? empty.Users, now.Users, (a, b) => a.Name == b.Name && a.Email == b.Email && a.SignupDate == b.SignupDate);
        var compounds = Diff(old?.Compounds ?? empty.Compounds, now.Compounds, (a, b) => a == b);
        var experiments = Diff(old?.Experiments ?? empty.Experiments, now.Experiments, (a, b) =>
            a.UserId == b.UserId && a.RunTime == b.RunTime && a.CompoundIds.SequenceEqual(b.CompoundIds));

        var both = users.Matched.Select(id => (Id: id, Before: old!.UserState(id), After: now.UserState(id))).ToList();
        var favChanged = both.Where(u => u.Before.FavCompoundId != u.After.FavCompoundId).Select(u => u.Id).ToList();
        var countChanged = both.Where(u => u.Before.ExperimentCount != u.After.ExperimentCount).Select(u => u.Id).ToList();

        var summary = new ChangeSummary(
            users.Counts, compounds.Counts, experiments.Counts, favChanged.Count, countChanged.Count,
            new AverageChange(old?.Average, now.Average));

        return new ExpectedChange(
            summary,
            new ChangeLists<UserChange>(new Dictionary<string, IReadOnlyList<UserChange>>
            {
                [Added] = [.. users.Added.Select(id => new UserChange(id, null, now.UserState(id)))],
                [Removed] = [.. users.Removed.Select(id => new UserChange(id, old!.UserState(id), null))],
                [Changed] = [.. users.Changed.Select(Both)],
                [FavCompoundChanged] = [.. favChanged.Select(Both)],
                [CountChanged] = [.. countChanged.Select(Both)],
            }),
            Lists(compounds, id => new CompoundChange(id, Compound(old, id), Compound(now, id))),
            Lists(experiments, id => new ExperimentChange(id, old?.Experiments.GetValueOrDefault(id), now.Experiments.GetValueOrDefault(id))));

        UserChange Both(int id) => new(id, old!.UserState(id), now.UserState(id));

        static CompoundState? Compound(Stored? data, int id) =>
            data is not null && data.Compounds.TryGetValue(id, out var c) ? new CompoundState(c.Name, c.Structure) : null;
    }

    sealed record IdDiff<T>(List<int> Added, List<int> Removed, List<int> Changed, List<int> Matched)
    {
        public ChangeCounts Counts => new(Added.Count, Removed.Count, Changed.Count, Matched.Count - Changed.Count);
    }

    static IdDiff<T> Diff<T>(SortedDictionary<int, T> before, SortedDictionary<int, T> after, Func<T, T, bool> same)
    {
        var matched = after.Keys.Where(before.ContainsKey).ToList();
        return new IdDiff<T>(
            [.. after.Keys.Where(id => !before.ContainsKey(id))],
            [.. before.Keys.Where(id => !after.ContainsKey(id))],
            [.. matched.Where(id => !same(before[id], after[id]))],
            matched);
    }

    static ChangeLists<TChange> Lists<T, TChange>(IdDiff<T> diff, Func<int, TChange> entry) =>
        new(new Dictionary<string, IReadOnlyList<TChange>>
        {
            [Added] = [.. diff.Added.Select(entry)],
            [Removed] = [.. diff.Removed.Select(entry)],
            [Changed] = [.. diff.Changed.Select(entry)],
        });

    /// <summary>A data set as stored: by id, an experiment's compounds distinct and ascending, and each user's derived figures.</summary>
    sealed class Stored
    {
        public SortedDictionary<int, ExportUser> Users { get; }
        public SortedDictionary<int, ExportCompound> Compounds { get; }
        public SortedDictionary<int, ExperimentState> Experiments { get; }
        public double Average { get; }

        readonly Dictionary<int, (int Count, int? Favourite)> _figures;

        public Stored(ExportData data)
        {
            Users = new(data.Users.ToDictionary(u => u.Id));
            Compounds = new(data.Compounds.ToDictionary(c => c.Id));
            Experiments = new(data.Experiments.ToDictionary(e => e.Id,
                e => new ExperimentState(e.UserId, [.. e.CompoundIds.Distinct().Order()], e.RunTime)));
            // The product's Averages.PerUser: experiments over all users, unrounded, 0 without users.
            Average = Users.Count == 0 ? 0 : (double)Experiments.Count / Users.Count;
            _figures = Experiments.Values.GroupBy(e => e.UserId).ToDictionary(g => g.Key, g => (
                g.Count(),
                (int?)g.SelectMany(e => e.CompoundIds).GroupBy(id => id)
                    .OrderByDescending(c => c.Count()).ThenBy(c => c.Key).First().Key));
        }

        public UserState UserState(int id)
        {
            var user = Users[id];
            var (count, favourite) = _figures.GetValueOrDefault(id);
            return new UserState(user.Name, user.Email, user.SignupDate, count, favourite,
                favourite is { } f ? Compounds[f].Name : null);
        }
    }
}
