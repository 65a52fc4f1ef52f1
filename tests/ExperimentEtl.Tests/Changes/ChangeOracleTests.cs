using System.Text.Json.Nodes;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Changes;

/// <summary>The oracle on hand-made data sets, each expectation written out by hand.</summary>
public class ChangeOracleTests
{
    // Alice: experiments 1 (compounds 1;2) and 2 (2;3): favourite 2. Bob: experiment 3 (1;3): favourite 1. Carol: 4 (2;3): 2.
    static ExportData Seed() => Data(
        [U(1, "Alice", "alice@example.com", "2023-01-01"), U(2, "Bob", "bob@example.com", "2023-02-01"), U(3, "Carol", "carol@example.com", "2023-03-01")],
        [C(1, "Compound A", "C20H25N3O"), C(2, "Compound B", "C21H30O2"), C(3, "Compound C", "C8H11NO2")],
        [E(1, 1, [1, 2], 10), E(2, 1, [2, 3], 15), E(3, 2, [1, 3], 20), E(4, 3, [2, 3], 25)]);

    [Fact]
    public void The_first_load_adds_everything_and_has_no_average_before()
    {
        var change = ChangeOracle.Compute(null, Seed());

        Assert.Equal(new ChangeCounts(3, 0, 0, 0), change.Summary.Users);
        Assert.Equal(new ChangeCounts(3, 0, 0, 0), change.Summary.Compounds);
        Assert.Equal(new ChangeCounts(4, 0, 0, 0), change.Summary.Experiments);
        Assert.Equal(0, change.Summary.FavCompoundChanged);
        Assert.Equal(0, change.Summary.CountChanged);
        Assert.Null(change.Summary.AverageExperimentCount.Before);
        Assert.Equal(4.0 / 3, change.Summary.AverageExperimentCount.After);
        Assert.Equal([1, 2, 3], change.Users[ChangeOracle.Added].Select(u => u.UserId));
        Assert.Equal(new UserState("Alice", "alice@example.com", new DateOnly(2023, 1, 1), 2, 2, "Compound B"), change.Users[ChangeOracle.Added][0].After);
        Assert.Null(change.Users[ChangeOracle.Added][0].Before);
        Assert.Equal([1, 2, 3, 4], change.Experiments[ChangeOracle.Added].Select(e => e.ExperimentId));
        Assert.Empty(change.Users[ChangeOracle.FavCompoundChanged]);
    }

    [Fact]
    public void The_same_data_set_again_is_all_unchanged()
    {
        var change = ChangeOracle.Compute(Seed(), Seed());

        AssertAllUnchanged(change, users: 3, compounds: 3, experiments: 4);
        Assert.Equal(4.0 / 3, change.Summary.AverageExperimentCount.Before);
    }

    [Fact]
    public void Rows_in_another_order_change_nothing()
    {
        var seed = Seed();
        var reordered = new ExportData
        {
            Users = [.. seed.Users.Reverse()],
            Compounds = [.. seed.Compounds.Reverse()],
            Experiments = [.. seed.Experiments.Reverse()],
        };

        AssertAllUnchanged(ChangeOracle.Compute(seed, reordered), users: 3, compounds: 3, experiments: 4);
    }

    [Fact]
    public void A_list_with_repeated_ids_in_another_order_is_the_same_set()
    {
        var before = Data([U(1, "Alice", "", "2023-01-01")], [C(1, "A", ""), C(2, "B", "")], [E(1, 1, [1, 2], 10)]);
        var after = Data([U(1, "Alice", "", "2023-01-01")], [C(1, "A", ""), C(2, "B", "")], [E(1, 1, [2, 1, 1], 10)]);

        AssertAllUnchanged(ChangeOracle.Compute(before, after), users: 1, compounds: 2, experiments: 1);
    }

    [Fact]
    public void Spaces_around_fields_and_list_items_change_nothing()
    {
        using var files = new TestFiles(
            "\nuser_id,\tname,\temail,\tsignup_date\n 1 ,\t Alice\t,\talice@example.com  ,\t2023-01-01 \n2,\tBob,\tbob@example.com,\t2023-02-01\n3,\tCarol,\tcarol@example.com,\t2023-03-01",
            "compound_id,\tcompound_name,\tcompound_structure\n1,\t Compound A ,\tC20H25N3O\n2,\tCompound B,\tC21H30O2\n3,\tCompound C,\t\tC8H11NO2\t",
            "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n4,\t3,\t3 ; 2,\t25\n1,\t1,\t 2;1;2 ,\t10\n2,\t1,\t2;3,\t15\n3,\t2,\t1;3,\t 20\n");

        var padded = ExportData.Parse(files.Directory);

        Assert.Equal("Alice", padded.Users[0].Name);
        Assert.Equal([2, 1, 2], padded.Experiments[1].CompoundIds);
        AssertAllUnchanged(ChangeOracle.Compute(Seed(), padded), users: 3, compounds: 3, experiments: 4);
    }

    [Fact]
    public void A_user_losing_their_last_experiment_counts_as_favourite_and_count_changed_but_not_as_changed()
    {
        var seed = Seed();
        var after = Data(seed.Users, seed.Compounds, [.. seed.Experiments.Where(e => e.Id != 3)]);

        var change = ChangeOracle.Compute(seed, after);

        Assert.Equal(new ChangeCounts(0, 0, 0, 3), change.Summary.Users);
        Assert.Equal(new ChangeCounts(0, 1, 0, 3), change.Summary.Experiments);
        Assert.Equal(1, change.Summary.FavCompoundChanged);
        Assert.Equal(1, change.Summary.CountChanged);
        var bob = Assert.Single(change.Users[ChangeOracle.FavCompoundChanged]);
        Assert.Equal(new UserChange(2,
            new UserState("Bob", "bob@example.com", new DateOnly(2023, 2, 1), 1, 1, "Compound A"),
            new UserState("Bob", "bob@example.com", new DateOnly(2023, 2, 1), 0, null, null)), bob);
        Assert.Equal(bob, Assert.Single(change.Users[ChangeOracle.CountChanged]));
        Assert.Empty(change.Users[ChangeOracle.Changed]);
        var removed = Assert.Single(change.Experiments[ChangeOracle.Removed]);
        Assert.Equal(3, removed.ExperimentId);
        Assert.Equal((2, 20), (removed.Before!.UserId, removed.Before.RunTime));
        Assert.Equal([1, 3], removed.Before.CompoundIds);
        Assert.Null(removed.After);
        Assert.Equal((4.0 / 3, 3.0 / 3), (change.Summary.AverageExperimentCount.Before, change.Summary.AverageExperimentCount.After));
    }

    [Fact]
    public void A_user_gaining_a_first_experiment_counts_too()
    {
        var before = Data([U(1, "Alice", "", "2023-01-01")], [C(1, "A", "")], []);
        var after = Data([U(1, "Alice", "", "2023-01-01")], [C(1, "A", "")], [E(1, 1, [1], 5)]);

        var change = ChangeOracle.Compute(before, after);

        Assert.Equal((1, 1), (change.Summary.FavCompoundChanged, change.Summary.CountChanged));
        Assert.Equal((0.0, 1.0), (change.Summary.AverageExperimentCount.Before!.Value, change.Summary.AverageExperimentCount.After));
    }

    [Theory]
    [InlineData("Alicia", "alice@example.com", "2023-01-01")]
    [InlineData("Alice", "", "2023-01-01")]
    [InlineData("Alice", "alice@example.com", "2023-01-02")]
    public void Any_user_field_that_differs_makes_the_user_changed(string name, string email, string signup)
    {
        var seed = Seed();
        var after = Data([U(1, name, email, signup), .. seed.Users.Skip(1)], seed.Compounds, seed.Experiments);

        var change = ChangeOracle.Compute(seed, after);

        Assert.Equal(new ChangeCounts(0, 0, 1, 2), change.Summary.Users);
        var alice = Assert.Single(change.Users[ChangeOracle.Changed]);
        Assert.Equal("Alice", alice.Before!.Name);
        Assert.Equal(name, alice.After!.Name);
        Assert.Equal((2, 2), (alice.Before.ExperimentCount, alice.After.ExperimentCount));
        Assert.Equal((0, 0), (change.Summary.FavCompoundChanged, change.Summary.CountChanged));
    }

    [Fact]
    public void A_compound_renamed_is_changed_without_changing_anyone_s_favourite()
    {
        var seed = Seed();
        var after = Data(seed.Users, [C(1, "Compound A", "C20H25N3O"), C(2, "Compound B2", "C21H30O2"), C(3, "Compound C", "C8H11NO3")], seed.Experiments);

        var change = ChangeOracle.Compute(seed, after);

        Assert.Equal(new ChangeCounts(0, 0, 2, 1), change.Summary.Compounds);
        Assert.Equal([2, 3], change.Compounds[ChangeOracle.Changed].Select(c => c.CompoundId));
        Assert.Equal(new CompoundChange(2, new CompoundState("Compound B", "C21H30O2"), new CompoundState("Compound B2", "C21H30O2")),
            change.Compounds[ChangeOracle.Changed][0]);
        Assert.Equal(0, change.Summary.FavCompoundChanged);
        Assert.Equal(new ChangeCounts(0, 0, 0, 3), change.Summary.Users);
    }

    [Fact]
    public void An_experiment_moved_to_another_user_changes_it_and_both_users_counts()
    {
        var seed = Seed();
        var after = Data(seed.Users, seed.Compounds, [.. seed.Experiments.Select(e => e.Id == 2 ? e with { UserId = 2 } : e)]);

        var change = ChangeOracle.Compute(seed, after);

        Assert.Equal(new ChangeCounts(0, 0, 1, 3), change.Summary.Experiments);
        var moved = Assert.Single(change.Experiments[ChangeOracle.Changed]);
        Assert.Equal((2, 1, 2), (moved.ExperimentId, moved.Before!.UserId, moved.After!.UserId));
        Assert.Equal([2, 3], moved.After.CompoundIds);
        Assert.Equal([1, 2], change.Users[ChangeOracle.CountChanged].Select(u => u.UserId));
        // Alice keeps 1;2 only: a tie of 1 and 2, the lowest id wins (was 2). Bob has 1;3 and 2;3: 3 (was 1).
        Assert.Equal([1, 2], change.Users[ChangeOracle.FavCompoundChanged].Select(u => u.UserId));
        Assert.Equal((2, 1), (change.Users[ChangeOracle.FavCompoundChanged][0].Before!.FavCompoundId, change.Users[ChangeOracle.FavCompoundChanged][0].After!.FavCompoundId));
        Assert.Equal("Compound C", change.Users[ChangeOracle.FavCompoundChanged][1].After!.FavCompoundName);
        Assert.Equal(new ChangeCounts(0, 0, 0, 3), change.Summary.Users);
    }

    [Fact]
    public void A_compound_repeated_in_one_list_counts_once_towards_the_favourite()
    {
        var data = Data([U(1, "Alice", "", "2023-01-01")], [C(1, "A", ""), C(2, "B", "")], [E(1, 1, [2, 2, 2], 5), E(2, 1, [1], 5)]);

        var alice = ChangeOracle.Compute(null, data).Users[ChangeOracle.Added][0].After!;

        Assert.Equal((2, 1), (alice.ExperimentCount, alice.FavCompoundId));
    }

    [Fact]
    public void Changed_run_times_and_compound_sets_make_experiments_changed_and_removals_and_additions_are_listed()
    {
        var seed = Seed();
        var after = Data(
            [.. seed.Users.Where(u => u.Id != 3), U(4, "Dan", "", "2024-01-01")],
            [.. seed.Compounds, C(4, "Compound D", "")],
            [E(1, 1, [1, 2], 11), E(2, 1, [3, 2, 4], 15), E(3, 2, [3, 1, 1], 20), E(5, 4, [4], 1)]);

        var change = ChangeOracle.Compute(seed, after);

        Assert.Equal(new ChangeCounts(1, 1, 0, 2), change.Summary.Users);
        Assert.Equal(new ChangeCounts(1, 0, 0, 3), change.Summary.Compounds);
        Assert.Equal(new ChangeCounts(1, 1, 2, 1), change.Summary.Experiments);
        Assert.Equal([1, 2], change.Experiments[ChangeOracle.Changed].Select(e => e.ExperimentId));
        Assert.Equal([2, 3, 4], change.Experiments[ChangeOracle.Changed][1].After!.CompoundIds);
        Assert.Equal(3, Assert.Single(change.Users[ChangeOracle.Removed]).UserId);
        Assert.Equal(new UserState("Carol", "carol@example.com", new DateOnly(2023, 3, 1), 1, 2, "Compound B"), change.Users[ChangeOracle.Removed][0].Before);
        Assert.Equal(new UserState("Dan", "", new DateOnly(2024, 1, 1), 1, 4, "Compound D"), Assert.Single(change.Users[ChangeOracle.Added]).After);
        // Removed and added users are not "present before and after".
        Assert.Equal((0, 0), (change.Summary.FavCompoundChanged, change.Summary.CountChanged));
        Assert.Throws<ArgumentException>(() => change.Compounds[ChangeOracle.CountChanged]);
    }

    [Fact]
    public void An_empty_data_set_has_an_average_of_zero()
    {
        var change = ChangeOracle.Compute(Seed(), new ExportData());

        Assert.Equal(new ChangeCounts(0, 3, 0, 0), change.Summary.Users);
        Assert.Equal(new ChangeCounts(0, 4, 0, 0), change.Summary.Experiments);
        Assert.Equal(0.0, change.Summary.AverageExperimentCount.After);
    }

    [Fact]
    public void The_records_serialise_to_the_api_s_json_shapes()
    {
        var seed = Seed();
        var change = ChangeOracle.Compute(seed, Data(seed.Users, seed.Compounds, [.. seed.Experiments.Where(e => e.Id != 3)]));

        AssertJson("""
            {"users":{"added":0,"removed":0,"changed":0,"unchanged":3},"compounds":{"added":0,"removed":0,"changed":0,"unchanged":3},
             "experiments":{"added":0,"removed":1,"changed":0,"unchanged":3},"fav_compound_changed":1,"count_changed":1,
             "average_experiment_count":{"before":1.3333333333333333,"after":1}}
            """, ChangeJson.ToNode(change.Summary));
        AssertJson("""
            {"user_id":2,
             "before":{"name":"Bob","email":"bob@example.com","signup_date":"2023-02-01","experiment_count":1,"fav_compound_id":1,"fav_compound_name":"Compound A"},
             "after":{"name":"Bob","email":"bob@example.com","signup_date":"2023-02-01","experiment_count":0,"fav_compound_id":null,"fav_compound_name":null}}
            """, ChangeJson.ToNode(change.Users[ChangeOracle.CountChanged][0]));
        AssertJson("""{"experiment_id":3,"before":{"user_id":2,"compound_ids":[1,3],"run_time":20},"after":null}""",
            ChangeJson.ToNode(change.Experiments[ChangeOracle.Removed][0]));
        AssertJson("""{"compound_id":1,"before":null,"after":{"name":"Compound A","structure":"C20H25N3O"}}""",
            ChangeJson.ToNode(ChangeOracle.Compute(null, seed).Compounds[ChangeOracle.Added][0]));
    }

    static void AssertJson(string expected, JsonNode? actual) =>
        Assert.True(JsonNode.DeepEquals(JsonNode.Parse(expected), actual), $"expected {JsonNode.Parse(expected)!.ToJsonString()}\nactual   {actual?.ToJsonString()}");

    internal static void AssertAllUnchanged(ExpectedChange change, int users, int compounds, int experiments)
    {
        Assert.Equal(new ChangeCounts(0, 0, 0, users), change.Summary.Users);
        Assert.Equal(new ChangeCounts(0, 0, 0, compounds), change.Summary.Compounds);
        Assert.Equal(new ChangeCounts(0, 0, 0, experiments), change.Summary.Experiments);
        Assert.Equal((0, 0), (change.Summary.FavCompoundChanged, change.Summary.CountChanged));
        Assert.Equal(change.Summary.AverageExperimentCount.Before, change.Summary.AverageExperimentCount.After);
        Assert.All(change.Users.Kinds, kind => Assert.Empty(change.Users[kind]));
        Assert.All(change.Compounds.Kinds, kind => Assert.Empty(change.Compounds[kind]));
        Assert.All(change.Experiments.Kinds, kind => Assert.Empty(change.Experiments[kind]));
    }

    static ExportData Data(IEnumerable<ExportUser> users, IEnumerable<ExportCompound> compounds, IEnumerable<ExportExperiment> experiments) =>
        new() { Users = [.. users], Compounds = [.. compounds], Experiments = [.. experiments] };

    static ExportUser U(int id, string name, string email, string signup) => new(id, name, email, DateOnly.Parse(signup, System.Globalization.CultureInfo.InvariantCulture));

    static ExportCompound C(int id, string name, string structure) => new(id, name, structure);

    static ExportExperiment E(int id, int user, int[] compounds, int runTime) => new(id, user, compounds, runTime);
}
