using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Tests.Pipeline;

/// <summary>
/// The users' fingerprints that the next load's change compares first: equal for the same stored rows in any order,
/// different when any stored field differs.
/// </summary>
public sealed class RowFingerprintsTests
{
    static readonly UserRow[] Users = [new(1, "Alice", "alice@example.com", new DateOnly(2023, 1, 1)), new(2, "Bob", "bob@example.com", new DateOnly(2023, 2, 1))];
    static readonly ExperimentRow[] Experiments = [new(10, 1, [1, 2, 3], 15), new(11, 1, [2], 20), new(12, 2, [3, 1], 25)];

    static UserFeature[] Features(IEnumerable<UserRow> users, IEnumerable<ExperimentRow> experiments)
    {
        using var accumulator = new FeatureAccumulator();
        foreach (var user in users)
        {
            accumulator.AddUser(user);
        }
        accumulator.StartExperiments(3);
        foreach (var experiment in experiments)
        {
            accumulator.AddExperiment(experiment);
        }
        return [.. accumulator.Build(3).Users.OrderBy(u => u.UserId)];
    }

    [Fact]
    public void The_order_of_rows_and_of_ids_in_a_list_leaves_the_fingerprints_equal()
    {
        var original = Features(Users, Experiments);
        var reordered = Features(Users.Reverse(), Experiments.Reverse().Select(e => e with { CompoundIds = [.. e.CompoundIds.Reverse()] }));
        Assert.Equal(original, reordered);
        Assert.NotEqual(original[0].ExperimentsFingerprint, original[1].ExperimentsFingerprint);
    }

    public static TheoryData<string> Edits => ["name", "email", "signup_date", "name and email swap a character", "run_time", "compound added", "compound replaced", "experiment id", "experiment moved to user 2"];

    [Theory]
    [MemberData(nameof(Edits))]
    public void Any_stored_field_that_differs_moves_a_fingerprint(string edit)
    {
        var users = Users.ToArray();
        var experiments = Experiments.ToArray();
        switch (edit)
        {
            case "name": users[0] = users[0] with { Name = "Alicia" }; break;
            case "email": users[0] = users[0] with { Email = "alice@example.org" }; break;
            case "signup_date": users[0] = users[0] with { SignupDate = new DateOnly(2023, 1, 2) }; break;
            case "name and email swap a character": users[0] = users[0] with { Name = "Alicea", Email = "lice@example.com" }; break;
            case "run_time": experiments[1] = experiments[1] with { RunTime = 21 }; break;
            case "compound added": experiments[1] = experiments[1] with { CompoundIds = [2, 3] }; break;
            case "compound replaced": experiments[0] = experiments[0] with { CompoundIds = [1, 2, 4] }; break;
            case "experiment id": experiments[1] = experiments[1] with { ExperimentId = 13 }; break;
            case "experiment moved to user 2": experiments[1] = experiments[1] with { UserId = 2 }; break;
        }
        var before = Features(Users, Experiments)[0];
        var after = Features(users, experiments)[0];
        Assert.False(before.RowFingerprint == after.RowFingerprint && before.ExperimentsFingerprint == after.ExperimentsFingerprint, edit);
    }
}
