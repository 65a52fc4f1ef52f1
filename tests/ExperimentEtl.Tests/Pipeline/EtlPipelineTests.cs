using System.Text;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;
using static ExperimentEtl.Tests.Csv.CsvRecordReaderTests;

namespace ExperimentEtl.Tests.Pipeline;

/// <summary>
/// In-memory stand-in for the storage boundary: records what the pipeline writes and whether it commits,
/// and throws when the pipeline breaks the <see cref="IDataSetLoad"/> / <see cref="IRowWriter{TRow}"/> contract
/// (a table opened before the previous one completed, a write after completion, a commit with tables missing).
/// </summary>
internal sealed class RecordingLoad : IDataSetLoad
{
    readonly List<string> _opened = [];
    string? _incompleteTable;

    public List<UserRow> Users { get; } = [];

    public List<CompoundRow> Compounds { get; } = [];

    /// <summary>Experiments with their compound ids copied (the reader reuses its arrays).</summary>
    public List<(int ExperimentId, int UserId, int[] CompoundIds, int RunTime)> Experiments { get; } = [];

    public int CommitCount { get; private set; }

    public DataSetFeatures? Features { get; private set; }

    public RunRecord? CommittedRun { get; private set; }

    public IRowWriter<UserRow> OpenUsers() => Open<UserRow>("users", Users.Add);

    public IRowWriter<CompoundRow> OpenCompounds() => Open<CompoundRow>("compounds", Compounds.Add);

    public IRowWriter<ExperimentRow> OpenExperiments() =>
        Open<ExperimentRow>("experiments", row => Experiments.Add((row.ExperimentId, row.UserId, [.. row.CompoundIds], row.RunTime)));

    RecordingWriter<TRow> Open<TRow>(string table, Action<TRow> sink)
    {
        if (CommitCount > 0)
        {
            throw new InvalidOperationException($"{table} opened after Commit");
        }
        if (_opened.Contains(table))
        {
            throw new InvalidOperationException($"{table} opened twice");
        }
        if (_incompleteTable is not null)
        {
            throw new InvalidOperationException($"{table} opened before {_incompleteTable} was completed");
        }
        _opened.Add(table);
        _incompleteTable = table;
        return new RecordingWriter<TRow>(table, sink, () => _incompleteTable = null);
    }

    public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        if (CommitCount > 0)
        {
            throw new InvalidOperationException("Commit called twice");
        }
        if (_opened.Count != 3 || _incompleteTable is not null)
        {
            throw new InvalidOperationException($"Commit with tables [{string.Join(", ", _opened)}] opened and {_incompleteTable ?? "none"} not completed");
        }
        CommitCount++;
        Features = features;
        CommittedRun = run with { FinishedAt = clock.GetUtcNow() };
        Rejects = rejects;
        return CommittedRun;
    }

    public IReadOnlyList<RejectedRow> Rejects { get; private set; } = [];

    public void Dispose()
    {
    }

    public static RunOutcome Run(string directory, RecordingLoad load, RunMode mode = RunMode.Strict) =>
        EtlPipeline.Execute(DataSetSource.FromDirectory(directory), load, RunRecord.Queue(TimeProvider.System.GetUtcNow(), mode, RunSource.DataFolder), null, MemoryBudget.Default, TimeProvider.System, CancellationToken.None);

    public static (RunOutcome Outcome, RecordingLoad Load) Run(TestFiles files, RunMode mode = RunMode.Strict)
    {
        var load = new RecordingLoad();
        return (Run(files.Directory, load, mode), load);
    }

    sealed class RecordingWriter<TRow>(string table, Action<TRow> sink, Action completed) : IRowWriter<TRow>
    {
        bool _disposed;

        public string Table { get; } = table;

        public bool Completed { get; private set; }

        public void Write(in TRow row)
        {
            if (Completed || _disposed)
            {
                throw new InvalidOperationException($"{Table}: row written after Complete or Dispose");
            }
            sink(row);
        }

        public void Complete()
        {
            if (Completed || _disposed)
            {
                throw new InvalidOperationException($"{Table}: Complete called twice or after Dispose");
            }
            Completed = true;
            completed();
        }

        public void Dispose() => _disposed = true;
    }
}

/// <summary>One pass over the three files: cross-file validation, all-or-nothing commit, features.</summary>
public sealed class EtlPipelineTests
{
    // The features as the tests spell them; the fingerprints the change compares are tested in RowFingerprintsTests.
    static UserFeature[] Features(IEnumerable<UserFeature> users) => [.. users.Select(u => u with { RowFingerprint = 0, ExperimentsFingerprint = 0 })];

    const string UsersHeader = "user_id,\tname,\temail,\tsignup_date\n";
    const string CompoundsHeader = "compound_id,\tcompound_name,\tcompound_structure\n";
    const string ExperimentsHeader = "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n";

    static void AssertFailedWithoutCommit(RunOutcome outcome, RecordingLoad load)
    {
        Assert.False(outcome.Succeeded);
        Assert.Equal(RunStatus.Failed, outcome.Run.Status);
        Assert.Equal(0, load.CommitCount);
        Assert.NotEmpty(outcome.Errors);
        Assert.Equal(outcome.Errors.Count, outcome.Run.ErrorCount);
    }

    // ---- Valid runs ----

    [Fact]
    public void Bundled_sample_commits_the_documented_features()
    {
        using var files = TestFiles.BundledSample();

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.True(outcome.Succeeded, string.Join("\n", outcome.Errors));
        Assert.Empty(outcome.Errors);
        Assert.Equal(1, load.CommitCount);
        var features = load.Features!;
        Assert.Equal((10L, 3L, 11L, 10L), (features.UserCount, features.CompoundCount, features.ExperimentCount, features.ActiveUserCount));
        Assert.Equal(1.1, (double)features.ExperimentCount / features.UserCount, 10);
        Assert.Equal(Enumerable.Range(1, 10), features.Users.Select(u => u.UserId));
        Assert.Equal(new UserFeature(1, 2, 2), Features(features.Users)[0]); // Alice: 1;2 and 2;3 → 2.
        Assert.Equal(new UserFeature(2, 1, 1), Features(features.Users)[1]); // Bob: 1;3 → tie → 1.
        Assert.Equal(new UserFeature(4, 1, 1), Features(features.Users)[3]); // Dave: 1;2;3 → tie → 1.
        Assert.Equal(new UserFeature(5, 1, 2), Features(features.Users)[4]); // Eve: 2;3 → 2.
        Assert.Equal(new UserFeature(10, 1, 1), Features(features.Users)[9]);
        Assert.Same(load.CommittedRun, outcome.Run);
        Assert.Equal(RunStatus.Succeeded, outcome.Run.Status);
    }

    [Fact]
    public void Bundled_sample_rows_are_all_written_with_their_values()
    {
        using var files = TestFiles.BundledSample();

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.True(outcome.Succeeded);
        Assert.Equal(10, load.Users.Count);
        Assert.Equal(new UserRow(10, "Judy", "judy@example.com", new DateOnly(2023, 10, 1)), load.Users[^1]);
        Assert.Equal([new CompoundRow(1, "Compound A", "C20H25N3O"), new CompoundRow(2, "Compound B", "C21H30O2"), new CompoundRow(3, "Compound C", "C8H11NO2")], load.Compounds);
        Assert.Equal(11, load.Experiments.Count);
        Assert.Equal([1, 2], load.Experiments[0].CompoundIds);
        Assert.Equal([1, 2, 3], load.Experiments[4].CompoundIds);
        Assert.Equal((11, 10, 60), (load.Experiments[^1].ExperimentId, load.Experiments[^1].UserId, load.Experiments[^1].RunTime));
        Assert.Equal(
            [("users.csv", 10L, 10L), ("compounds.csv", 3L, 3L), ("user_experiments.csv", 11L, 11L)],
            outcome.Run.Files.Select(f => (f.File, f.RowsRead, f.RowsLoaded)));
    }

    [Fact]
    public void Rfc4180_files_with_bom_crlf_quotes_other_column_order_and_extra_columns_load_like_the_seed()
    {
        var bom = Encoding.UTF8.GetString(Encoding.UTF8.GetPreamble());
        using var files = new TestFiles(
            users: bom + "email,user_id,signup_date,name,notes\r\n\"alice@example.com\",1,2023-01-01,\"Liddell, Alice\",\"said \"\"hi\"\"\r\ntwice\"\r\nbob@example.com,2,2023-02-01,Bob,\r\n\r\ncarol@example.com,3,2023-03-01,Carol,x\r\n",
            compounds: "1,\t\"Compound A\",\tC20H25N3O\r\n2,Compound B,C21H30O2",
            experiments: bom + "\"experiment_id\",\"user_id\",\"experiment_compound_ids\",\"experiment_run_time\"\n1,1,\" 1 ; 2 \",10\n2,1,\"2;2\",15\n3,2,1,20\n");

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.True(outcome.Succeeded, string.Join("\n", outcome.Errors));
        Assert.Equal(new UserRow(1, "Liddell, Alice", "alice@example.com", new DateOnly(2023, 1, 1)), load.Users[0]);
        Assert.Equal([1, 2, 3], load.Users.Select(u => u.UserId));
        Assert.Equal([[1, 2], [2], [1]], load.Experiments.Select(e => e.CompoundIds));
        Assert.Equal([new UserFeature(1, 2, 2), new UserFeature(2, 1, 1), new UserFeature(3, 0, null)], Features(load.Features!.Users));
    }

    [Fact]
    public void Users_without_experiments_count_0_with_no_favourite_and_lower_the_average()
    {
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n3,\tCarol,\tcarol@example.com,\t2023-03-01\n4,\tDan,\t,\t2023-04-01");

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.True(outcome.Succeeded, string.Join("\n", outcome.Errors));
        var features = load.Features!;
        Assert.Equal(
            [new UserFeature(1, 2, 2), new UserFeature(2, 1, 1), new UserFeature(3, 0, null), new UserFeature(4, 0, null)],
            Features(features.Users));
        Assert.Equal(0.75, (double)features.ExperimentCount / features.UserCount, 10);
        Assert.Equal(2, features.ActiveUserCount);
    }

    [Fact]
    public void Compound_repeated_inside_one_experiment_counts_once_for_the_favourite()
    {
        using var files = new TestFiles(
            compounds: TestFiles.SeedCompounds + "\n3,\tCompound C,\tC3",
            experiments: ExperimentsHeader + "1,\t1,\t3;3;3,\t10\n2,\t1,\t1;2,\t10\n3,\t1,\t1,\t10\n4,\t2,\t3;2;3;2,\t10");

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.True(outcome.Succeeded, string.Join("\n", outcome.Errors));
        Assert.Equal([new UserFeature(1, 3, 1), new UserFeature(2, 1, 2)], Features(load.Features!.Users));
        Assert.Equal([3], load.Experiments[0].CompoundIds);
    }

    // ---- Cross-file errors ----

    [Fact]
    public void Duplicate_user_id_is_an_error_on_the_second_occurrence()
    {
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n1,\tAlicia,\talicia@example.com,\t2023-05-01");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        var error = Assert.Single(outcome.Errors);
        AssertError(error, "users.csv", 5, "user_id", "1");
        Assert.Contains("more than once", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_compound_id_is_an_error_on_the_second_occurrence()
    {
        using var files = new TestFiles(compounds: TestFiles.SeedCompounds + "\n\n2,\tCompound B2,\tC2");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), "compounds.csv", 5, "compound_id", "2");
    }

    [Fact]
    public void Duplicate_experiment_id_is_an_error_on_the_second_occurrence()
    {
        using var files = new TestFiles(experiments: TestFiles.SeedExperiments + "\n2,\t2,\t2,\t30");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), "user_experiments.csv", 5, "experiment_id", "2");
    }

    [Fact]
    public void Duplicate_id_after_quoted_line_breaks_is_reported_on_its_physical_line()
    {
        using var files = new TestFiles(users: UsersHeader + "1,\"Alice\r\nLiddell\",a@x,2023-01-01\r\n2,\"Bob\n\nB\",b@x,2023-02-01\n2,Bobby,b2@x,2023-02-02\n");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), "users.csv", 7, "user_id", "2");
    }

    [Fact]
    public void Experiment_of_an_unknown_user_is_an_error_naming_the_users_file()
    {
        using var files = new TestFiles(experiments: TestFiles.SeedExperiments + "\n4,\t9,\t1,\t30");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        var error = Assert.Single(outcome.Errors);
        AssertError(error, "user_experiments.csv", 5, "user_id", "9");
        Assert.Contains("users.csv", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Experiment_of_a_user_whose_row_was_invalid_is_also_an_error()
    {
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n3,\tCarol,\tc@x,\t2023-02-30", experiments: TestFiles.SeedExperiments + "\n4,\t3,\t1,\t30");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        Assert.Equal(2, outcome.Errors.Count);
        AssertError(outcome.Errors[0], "users.csv", 5, "signup_date", "2023-02-30");
        AssertError(outcome.Errors[1], "user_experiments.csv", 5, "user_id", "3");
    }

    [Fact]
    public void Unknown_compound_is_an_error_naming_the_compounds_file_and_the_id()
    {
        using var files = new TestFiles(experiments: TestFiles.SeedExperiments + "\n4,\t2,\t1; 9 ;2,\t30");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        var error = Assert.Single(outcome.Errors);
        AssertError(error, "user_experiments.csv", 5, "experiment_compound_ids", "1; 9 ;2");
        Assert.Contains("compounds.csv", error.Message, StringComparison.Ordinal);
        Assert.Contains("9", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_unknown_compound_of_an_experiment_is_reported()
    {
        using var files = new TestFiles(experiments: TestFiles.SeedExperiments + "\n4,\t2,\t7;1;8,\t30");

        var (outcome, _) = RecordingLoad.Run(files);

        Assert.Equal(2, outcome.Errors.Count);
        Assert.Contains("7", outcome.Errors[0].Message, StringComparison.Ordinal);
        Assert.Contains("8", outcome.Errors[1].Message, StringComparison.Ordinal);
        Assert.All(outcome.Errors, e => Assert.Equal(("user_experiments.csv", 5L), (e.File, e.Line)));
    }

    [Fact]
    public void Errors_in_all_three_files_are_reported_in_one_run_in_file_order()
    {
        using var files = new TestFiles(
            users: TestFiles.SeedUsers + "\nx,\tBad,\tb@x,\t2023-01-01",
            compounds: TestFiles.SeedCompounds + "\n3,\t,\tC3",
            experiments: TestFiles.SeedExperiments + "\n4,\t1,\t1,\tlong");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        Assert.Equal(3, outcome.Errors.Count);
        AssertError(outcome.Errors[0], "users.csv", 5, "user_id", "x");
        AssertError(outcome.Errors[1], "compounds.csv", 4, "compound_name", "");
        AssertError(outcome.Errors[2], "user_experiments.csv", 5, "experiment_run_time", "long");
    }

    // ---- Missing and empty files ----

    [Theory]
    [InlineData("users.csv")]
    [InlineData("compounds.csv")]
    [InlineData("user_experiments.csv")]
    public void Missing_file_is_one_error_naming_it_on_line_0(string fileName)
    {
        using var files = new TestFiles();
        files.Write(fileName, null);

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        // Experiments pointing into a missing users.csv or compounds.csv are not each reported again.
        var error = Assert.Single(outcome.Errors);
        AssertError(error, fileName, 0, null, null);
        Assert.Contains(fileName, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void All_files_missing_gives_one_error_per_file()
    {
        using var files = new TestFiles(null, null, null);

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        Assert.Equal(["users.csv", "compounds.csv", "user_experiments.csv"], outcome.Errors.Select(e => e.File));
        Assert.All(outcome.Errors, e => Assert.Equal(0, e.Line));
    }

    [Theory]
    [InlineData("users.csv", "")]
    [InlineData("users.csv", "\n\n")]
    [InlineData("users.csv", "\nuser_id,\tname,\temail,\tsignup_date")]
    [InlineData("compounds.csv", "")]
    [InlineData("compounds.csv", "compound_id,compound_name,compound_structure\r\n")]
    [InlineData("user_experiments.csv", "")]
    public void Empty_or_header_only_file_is_one_error_naming_it(string fileName, string content)
    {
        using var files = new TestFiles();
        files.Write(fileName, content);

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), fileName, 0, null, null);
    }

    [Fact]
    public void Users_file_with_an_unusable_header_does_not_give_one_error_per_experiment()
    {
        using var files = new TestFiles(users: "\nuser_id,\tname,\temail\n1,\tAlice,\ta@x\n2,\tBob,\tb@x");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), "users.csv", 2, "signup_date", null);
    }

    [Fact]
    public void Empty_compounds_file_is_reported_even_when_users_file_already_has_errors()
    {
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n3,\tCarol,\tc@x,\t2023-02-30", compounds: "");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        Assert.Equal(2, outcome.Errors.Count);
        AssertError(outcome.Errors[0], "users.csv", 5, "signup_date", "2023-02-30");
        AssertError(outcome.Errors[1], "compounds.csv", 0, null, null);
    }

    [Fact]
    public void Invalid_utf8_in_users_file_is_an_error_not_an_exception()
    {
        using var files = new TestFiles();
        var (bytes, badLine) = UsersWithInvalidByte(rows: 3, badRow: 2);
        files.WriteBytes("users.csv", bytes);

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        var error = outcome.Errors[0];
        AssertError(error, "users.csv", badLine, null, $"{badLine - 1},Bad\uFFFDName,x@example.com,2023-01-01");
        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
    }

    // ---- Error cap and all-or-nothing ----

    [Fact]
    public void Errors_are_capped_at_max_kept_with_the_true_total_counted()
    {
        var users = new StringBuilder(UsersHeader);
        for (var i = 1; i <= 250; i++)
        {
            users.Append(i).Append(",\tUser,\tu@x,\t2023-02-31\n");
        }
        users.Append("251,\tAlice,\ta@x,\t2023-01-01\n");
        using var files = new TestFiles(users: users.ToString(), experiments: ExperimentsHeader + "1,\t251,\t1,\t10");

        var (outcome, load) = RecordingLoad.Run(files);

        Assert.False(outcome.Succeeded);
        Assert.Equal(0, load.CommitCount);
        Assert.Equal(ErrorCollector.MaxKept, outcome.Errors.Count);
        Assert.Equal(250, outcome.Run.ErrorCount);
        Assert.Contains("250", outcome.Run.Message, StringComparison.Ordinal);
        Assert.Equal(Enumerable.Range(2, ErrorCollector.MaxKept).Select(l => (long)l), outcome.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Error_count_adds_up_across_files_beyond_the_cap()
    {
        var experiments = new StringBuilder(ExperimentsHeader);
        for (var i = 1; i <= 120; i++)
        {
            experiments.Append(i).Append(",\t77,\t1,\t10\n"); // Unknown user.
        }
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n\n5,\t,\tx@x,\t2023-01-01", experiments: experiments.ToString());

        var (outcome, _) = RecordingLoad.Run(files);

        Assert.Equal(121, outcome.Run.ErrorCount);
        Assert.Equal(ErrorCollector.MaxKept, outcome.Errors.Count);
        AssertError(outcome.Errors[0], "users.csv", 6, "name", "");
        AssertError(outcome.Errors[1], "user_experiments.csv", 2, "user_id", "77");
        Assert.Equal(100, outcome.Errors[^1].Line);
    }

    [Fact]
    public void Long_bad_value_is_shortened_in_the_error()
    {
        var longName = new string('x', 5000);
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\n3,\tCarol,\tc@x,\t" + longName);

        var (outcome, _) = RecordingLoad.Run(files);

        var error = Assert.Single(outcome.Errors);
        Assert.Equal(("users.csv", 5L, "signup_date"), (error.File, error.Line, error.Column));
        Assert.InRange(error.Value!.Length, 1, 1000);
        Assert.StartsWith("xxx", error.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void A_single_error_in_the_last_row_of_the_last_file_prevents_the_commit()
    {
        using var files = TestFiles.BundledSample();
        files.Write("user_experiments.csv", File.ReadAllText(Path.Combine(files.Directory, "user_experiments.csv")) + "\n12,\t1,\t4,\t65");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        AssertError(Assert.Single(outcome.Errors), "user_experiments.csv", 13, "experiment_compound_ids", "4");
        Assert.Null(load.Features);
        Assert.Contains("nothing was loaded", outcome.Run.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void After_the_first_error_no_further_rows_are_written()
    {
        using var files = new TestFiles(users: TestFiles.SeedUsers + "\nbad,\tX,\tx@x,\t2023-01-01\n3,\tCarol,\tc@x,\t2023-03-01");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        Assert.DoesNotContain(load.Users, u => u.UserId == 3);
        Assert.Empty(load.Compounds);
        Assert.Empty(load.Experiments);
    }

    [Fact]
    public void Failed_and_valid_runs_reuse_no_state()
    {
        using var bad = new TestFiles(experiments: TestFiles.SeedExperiments + "\n3,\t1,\t1,\t1");
        using var good = new TestFiles();

        var (failed, failedLoad) = RecordingLoad.Run(bad);
        var (succeeded, goodLoad) = RecordingLoad.Run(good);

        AssertFailedWithoutCommit(failed, failedLoad);
        Assert.True(succeeded.Succeeded);
        Assert.Equal(1, goodLoad.CommitCount);
        Assert.Equal([new UserFeature(1, 2, 2), new UserFeature(2, 1, 1)], Features(goodLoad.Features!.Users));
    }

    [Fact]
    public void A_nul_character_is_an_error_on_its_line_not_a_database_failure()
    {
        using var files = new TestFiles(users: "user_id,name,email,signup_date\n1,Ann,a@x,2024-01-01\n2,B\0b,b@x,2024-01-01");

        var (outcome, load) = RecordingLoad.Run(files);

        AssertFailedWithoutCommit(outcome, load);
        var error = outcome.Errors[0]; // The experiments of user 2 follow it.
        Assert.Equal(("users.csv", 3L), (error.File, error.Line));
        Assert.Contains("NUL", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_lenient_run_whose_file_has_only_rejected_rows_fails_instead_of_loading_an_empty_data_set()
    {
        using var files = new TestFiles(users: "user_id,name,email,signup_date\n1,Ann,a@x,2024-13-01\n2,Bob,b@x,yesterday");

        var (outcome, load) = RecordingLoad.Run(files, RunMode.Lenient);

        AssertFailedWithoutCommit(outcome, load);
        Assert.Contains(outcome.Errors, e => e.File == "users.csv" && e.Line == 0 && e.Message.Contains("every row was rejected", StringComparison.Ordinal));
        Assert.Equal(2, outcome.Run.Files[0].RowsRejected);
    }

    /// <summary>
    /// 1,000 users and 300 compounds; 20,000 experiments spread over them (many distinct pairs), and an invalid last one
    /// when <paramref name="invalidLast"/>.
    /// </summary>
    static TestFiles ManyPairs(bool invalidLast) => new(
        "user_id,name,email,signup_date\n" + string.Join("\n", Enumerable.Range(1, 1000).Select(u => $"{u},U{u},u{u}@x,2024-01-01")),
        "compound_id,compound_name,compound_structure\n" + string.Join("\n", Enumerable.Range(1, 300).Select(c => $"{c},C{c},S{c}")),
        "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n"
            + string.Join("\n", Enumerable.Range(1, 20_000).Select(e => $"{e},{1 + e % 1000},{1 + e * 7 % 300};{1 + e * 13 % 300},5"))
            + (invalidLast ? "\n20001,1,9999,5" : ""));

    static RunOutcome RunWithinTinyBudget(TestFiles files, string spillParent, Action<bool>? progress, CancellationToken cancellationToken) =>
        EtlPipeline.Execute(DataSetSource.FromDirectory(files.Directory), new RecordingLoad(),
            RunRecord.Queue(TimeProvider.System.GetUtcNow(), RunMode.Strict, RunSource.DataFolder),
            _ => progress?.Invoke(Directory.EnumerateDirectories(spillParent, MemoryBudget.SpillPrefix + "*").Any()),
            new MemoryBudget(4096, spillParent), TimeProvider.System, cancellationToken);

    [Fact]
    public void Spilled_pairs_are_deleted_after_a_run_that_succeeds_or_fails()
    {
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;
        foreach (var invalidLast in new[] { false, true })
        {
            using var files = ManyPairs(invalidLast);
            var spilled = false;

            var outcome = RunWithinTinyBudget(files, spillParent, seen => spilled |= seen, CancellationToken.None);

            Assert.Equal(!invalidLast, outcome.Succeeded);
            Assert.True(spilled, "the run never spilled");
            Assert.Empty(Directory.EnumerateFileSystemEntries(spillParent));
        }
        Directory.Delete(spillParent);
    }

    [Fact]
    public void Spilled_pairs_are_deleted_after_a_cancelled_run()
    {
        var spillParent = Directory.CreateTempSubdirectory("etl-test-spill-").FullName;
        using var files = ManyPairs(invalidLast: false);
        using var cancel = new CancellationTokenSource();

        Assert.ThrowsAny<OperationCanceledException>(() => RunWithinTinyBudget(files, spillParent, spilled =>
        {
            if (spilled)
            {
                cancel.Cancel();
            }
        }, cancel.Token));

        Assert.True(cancel.IsCancellationRequested, "the run never spilled");
        Assert.Empty(Directory.EnumerateFileSystemEntries(spillParent));
        Directory.Delete(spillParent);
    }
}
