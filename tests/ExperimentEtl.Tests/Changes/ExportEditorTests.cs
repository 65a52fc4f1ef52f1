using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Changes;

/// <summary>Seeded properties of the editor and the files it writes, checked with the oracle.</summary>
public class ExportEditorTests
{
    const int Seeds = 60;

    public static TheoryData<int> SeedsToTry() => [.. Enumerable.Range(1, Seeds)];

    static ExportData Sample(Random random) =>
        ExportData.Random(random, users: 1 + random.Next(40), compounds: 1 + random.Next(12), experiments: random.Next(120));

    [Theory]
    [MemberData(nameof(SeedsToTry))]
    public void Edits_keep_the_data_strict_valid_and_the_counts_add_up(int seed)
    {
        var random = new Random(seed);
        var before = Sample(random);
        Assert.Empty(before.StrictErrors());

        var after = ExportEditor.Edit(before, random, new EditOptions(Share: random.NextDouble() * 0.3));

        Assert.Empty(after.StrictErrors());
        Assert.All(after.Experiments, e => Assert.NotEmpty(e.CompoundIds));
        var summary = ChangeOracle.Compute(before, after).Summary;
        Assert.Equal(after.Users.Count, summary.Users.Added + summary.Users.Changed + summary.Users.Unchanged);
        Assert.Equal(before.Users.Count, summary.Users.Removed + summary.Users.Changed + summary.Users.Unchanged);
        Assert.Equal(after.Compounds.Count, summary.Compounds.Added + summary.Compounds.Changed + summary.Compounds.Unchanged);
        Assert.Equal(before.Experiments.Count, summary.Experiments.Removed + summary.Experiments.Changed + summary.Experiments.Unchanged);
        Assert.Equal(after.Experiments.Count, summary.Experiments.Added + summary.Experiments.Changed + summary.Experiments.Unchanged);
    }

    [Theory]
    [MemberData(nameof(SeedsToTry))]
    public void Cosmetic_edits_alone_leave_everything_unchanged_also_through_the_files(int seed)
    {
        var random = new Random(seed);
        var before = Sample(random);

        var after = ExportEditor.Edit(before, random, new EditOptions(Share: 0.5, Substantive: false));
        using var files = new TestFiles(null, null, null);
        after.WriteTo(files.Directory);
        var reread = ExportData.Parse(files.Directory);

        Assert.Empty(after.StrictErrors());
        ChangeOracleTests.AssertAllUnchanged(ChangeOracle.Compute(before, after), before.Users.Count, before.Compounds.Count, before.Experiments.Count);
        ChangeOracleTests.AssertAllUnchanged(ChangeOracle.Compute(before, reread), before.Users.Count, before.Compounds.Count, before.Experiments.Count);
    }

    [Theory]
    [MemberData(nameof(SeedsToTry))]
    public void Written_files_read_back_to_the_same_rows_in_the_same_order(int seed)
    {
        var random = new Random(seed);
        var edited = ExportEditor.Edit(Sample(random), random);
        using var files = new TestFiles(null, null, null);

        edited.WriteTo(files.Directory);
        var reread = ExportData.Parse(files.Directory);

        Assert.Equal(edited.Users, reread.Users);
        Assert.Equal(edited.Compounds, reread.Compounds);
        Assert.Equal(edited.Experiments.Select(e => (e.Id, e.UserId, string.Join(';', e.CompoundIds), e.RunTime)),
            reread.Experiments.Select(e => (e.Id, e.UserId, string.Join(';', e.CompoundIds), e.RunTime)));
    }

    /// <summary>Over all seeds the editor makes every kind of change the oracle counts, and every cosmetic variant.</summary>
    [Fact]
    public void Across_seeds_every_kind_of_change_occurs()
    {
        var totals = new Dictionary<string, int>();
        var lists = 0;
        var padded = 0;
        for (var seed = 1; seed <= Seeds; seed++)
        {
            var random = new Random(seed);
            var before = Sample(random);
            var after = ExportEditor.Edit(before, random, new EditOptions(Share: 0.2));
            var summary = ChangeOracle.Compute(before, after).Summary;
            Add("users", summary.Users);
            Add("compounds", summary.Compounds);
            Add("experiments", summary.Experiments);
            Add("fav_compound_changed", summary.FavCompoundChanged);
            Add("count_changed", summary.CountChanged);
            Add("user lost all experiments", after.Users.Count(u =>
                before.Experiments.Any(e => e.UserId == u.Id) && !after.Experiments.Any(e => e.UserId == u.Id)));
            lists += after.Experiments.Count(e => e.CompoundIds.Distinct().Count() < e.CompoundIds.Count);
            padded += after.PaddingSeed is null ? 0 : 1;
        }

        Assert.All(totals, total => Assert.True(total.Value > 0, $"no {total.Key} in {Seeds} seeds"));
        Assert.True(lists > 0 && padded > 0, $"{lists} lists with repeats, {padded} padded data sets");

        void Add(string name, object value)
        {
            if (value is ChangeCounts counts)
            {
                Add(name + " added", counts.Added);
                Add(name + " removed", counts.Removed);
                Add(name + " changed", counts.Changed);
                return;
            }
            totals[name] = totals.GetValueOrDefault(name) + (int)value;
        }
    }
}
