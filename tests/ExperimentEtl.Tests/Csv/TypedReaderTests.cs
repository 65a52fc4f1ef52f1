using System.Text;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using static ExperimentEtl.Tests.Csv.CsvRecordReaderTests;

namespace ExperimentEtl.Tests.Csv;

/// <summary>The typed readers: values parsed and validated, each bad field an error with its exact place and value.</summary>
public sealed class TypedReaderTests
{
    const string UsersHeader = "user_id,\tname,\temail,\tsignup_date\n";
    const string CompoundsHeader = "compound_id,\tcompound_name,\tcompound_structure\n";
    const string ExperimentsHeader = "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n";

    internal sealed record Experiment(int ExperimentId, int UserId, int[] CompoundIds, int RunTime);

    static CsvRecordReader Records(string text, CsvSchema schema, ErrorCollector errors) =>
        new(new MemoryStream(Encoding.UTF8.GetBytes(text)), schema, errors);

    internal static (List<UserRow> Rows, IReadOnlyList<RowError> Errors) ReadUsers(string text)
    {
        var errors = new ErrorCollector();
        var rows = new List<UserRow>();
        using var records = Records(text, CsvSchema.Users, errors);
        var reader = new UserCsvReader(records);
        while (reader.TryRead(out var row))
        {
            rows.Add(row);
        }
        return (rows, errors.Kept);
    }

    internal static (List<CompoundRow> Rows, IReadOnlyList<RowError> Errors) ReadCompounds(string text)
    {
        var errors = new ErrorCollector();
        var rows = new List<CompoundRow>();
        using var records = Records(text, CsvSchema.Compounds, errors);
        var reader = new CompoundCsvReader(records);
        while (reader.TryRead(out var row))
        {
            rows.Add(row);
        }
        return (rows, errors.Kept);
    }

    internal static (List<Experiment> Rows, IReadOnlyList<RowError> Errors) ReadExperiments(string text)
    {
        var errors = new ErrorCollector();
        var rows = new List<Experiment>();
        using var records = Records(text, CsvSchema.Experiments, errors);
        var reader = new ExperimentCsvReader(records);
        while (reader.TryRead(out var row))
        {
            // The reader reuses the array: copy it, as a consumer that keeps rows must.
            rows.Add(new Experiment(row.ExperimentId, row.UserId, [.. row.CompoundIds], row.RunTime));
        }
        return (rows, errors.Kept);
    }

    // ---- Valid values ----

    [Fact]
    public void Seed_dialect_users_are_parsed_into_typed_rows()
    {
        var (rows, errors) = ReadUsers("\n" + UsersHeader + "1,\tAlice,\talice@example.com,\t2023-01-01\n2,\tBob,\tbob@example.com,\t2024-02-29");

        Assert.Empty(errors);
        Assert.Equal(
            [new UserRow(1, "Alice", "alice@example.com", new DateOnly(2023, 1, 1)), new UserRow(2, "Bob", "bob@example.com", new DateOnly(2024, 2, 29))],
            rows);
    }

    [Fact]
    public void Quoted_rfc4180_values_are_unescaped_into_typed_rows()
    {
        var (rows, errors) = ReadUsers("user_id,name,email,signup_date\r\n\"7\",\"O'Brien, \"\"Pat\"\"\",\"\",\"2023-12-31\"\r\n");

        Assert.Empty(errors);
        Assert.Equal(new UserRow(7, "O'Brien, \"Pat\"", "", new DateOnly(2023, 12, 31)), Assert.Single(rows));
    }

    [Fact]
    public void Largest_id_is_accepted()
    {
        var (rows, errors) = ReadCompounds(CompoundsHeader + "2147483647,\tBig,\t\n0,\tZero,\tC");

        Assert.Empty(errors);
        Assert.Equal([new CompoundRow(2147483647, "Big", ""), new CompoundRow(0, "Zero", "C")], rows);
    }

    [Fact]
    public void Seed_dialect_experiments_are_parsed_with_their_compound_lists()
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t1;2,\t10\n5,\t4,\t1;2;3,\t30");

        Assert.Empty(errors);
        Assert.Equal([(1, 1, 10), (5, 4, 30)], rows.Select(r => (r.ExperimentId, r.UserId, r.RunTime)));
        Assert.Equal([1, 2], rows[0].CompoundIds);
        Assert.Equal([1, 2, 3], rows[1].CompoundIds);
    }

    [Fact]
    public void Spaces_and_tabs_around_each_compound_id_are_trimmed()
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t 1 ; 2 ,\t10\n2,\t1,\t\"\t3\t;\t4 \",\t10");

        Assert.Empty(errors);
        Assert.Equal([1, 2], rows[0].CompoundIds);
        Assert.Equal([3, 4], rows[1].CompoundIds);
    }

    [Fact]
    public void Repeated_compound_ids_in_one_experiment_are_read_once()
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t1;1;2,\t10\n2,\t1,\t3;3;3,\t10\n3,\t1,\t4 ; 4;5;4,\t10");

        Assert.Empty(errors);
        Assert.Equal([1, 2], rows[0].CompoundIds);
        Assert.Equal([3], rows[1].CompoundIds);
        Assert.Equal([4, 5], rows[2].CompoundIds);
    }

    [Fact]
    public void Compound_ids_are_correct_for_every_row_although_the_array_is_reused()
    {
        var text = new StringBuilder(ExperimentsHeader);
        for (var i = 1; i <= 40; i++)
        {
            text.Append(i).Append(",\t1,\t").AppendJoin(';', Enumerable.Range(i, i % 20 + 1)).Append(",\t1\n");
        }

        var (rows, errors) = ReadExperiments(text.ToString());

        Assert.Empty(errors);
        Assert.Equal(40, rows.Count);
        Assert.All(rows, r => Assert.Equal(Enumerable.Range(r.ExperimentId, r.ExperimentId % 20 + 1), r.CompoundIds));
    }

    [Fact]
    public void Invalid_rows_are_skipped_and_the_following_valid_rows_are_returned()
    {
        var (rows, errors) = ReadUsers(UsersHeader + "1,\tAlice,\ta@x,\t2023-01-01\nx,\tBad,\tb@x,\t2023-01-01\n3,\tCarol,\tc@x,\t2023-03-01");

        Assert.Equal([1, 3], rows.Select(r => r.UserId));
        AssertError(Assert.Single(errors), "users.csv", 3, "user_id", "x");
    }

    // ---- Invalid values: users.csv ----

    [Theory]
    [InlineData("abc")]
    [InlineData("1.5")]
    [InlineData("-1")]
    [InlineData("+1")]
    [InlineData("1e3")]
    [InlineData("2147483648")]
    [InlineData("1 2")]
    public void User_id_that_is_not_a_whole_number_is_an_error(string value)
    {
        var (rows, errors) = ReadUsers("\n" + UsersHeader + "1,\tAlice,\ta@x,\t2023-01-01\n" + value + ",\tBob,\tb@x,\t2023-02-01");

        Assert.Equal([1], rows.Select(r => r.UserId));
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 4, "user_id", value);
        Assert.Contains("whole number", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_user_id_is_a_required_value_error()
    {
        var (rows, errors) = ReadUsers(UsersHeader + " \t,\tBob,\tb@x,\t2023-02-01");

        Assert.Empty(rows);
        AssertError(Assert.Single(errors), "users.csv", 2, "user_id", "");
    }

    [Theory]
    [InlineData("2023-02-30")]
    [InlineData("2023-13-01")]
    [InlineData("2023-02-29")]
    [InlineData("01/02/2023")]
    [InlineData("2023/01/02")]
    [InlineData("2023-1-2")]
    [InlineData("2023-01-01T00:00:00")]
    [InlineData("yesterday")]
    public void Signup_date_that_is_not_a_real_yyyy_mm_dd_date_is_an_error(string value)
    {
        var (rows, errors) = ReadUsers(UsersHeader + "1,\tAlice,\ta@x,\t2023-01-01\n2,\tBob,\tb@x,\t" + value + "\n3,\tCarol,\tc@x,\t2023-03-01\n");

        Assert.Equal([1, 3], rows.Select(r => r.UserId));
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 3, "signup_date", value);
        Assert.Contains("YYYY-MM-DD", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Missing_signup_date_is_an_error()
    {
        var (_, errors) = ReadUsers(UsersHeader + "1,\tAlice,\ta@x,\t");

        AssertError(Assert.Single(errors), "users.csv", 2, "signup_date", "");
    }

    [Theory]
    [InlineData("")]
    [InlineData(" \t ")]
    [InlineData("\"  \"")]
    public void Missing_name_is_an_error(string value)
    {
        var (rows, errors) = ReadUsers(UsersHeader + "1,\tAlice,\ta@x,\t2023-01-01\n2," + value + ",b@x,2023-02-01");

        Assert.Single(rows);
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 3, "name", "");
        Assert.Contains("required", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_email_is_allowed()
    {
        var (rows, errors) = ReadUsers(UsersHeader + "1,\tAlice,\t,\t2023-01-01");

        Assert.Empty(errors);
        Assert.Equal("", Assert.Single(rows).Email);
    }

    [Fact]
    public void Every_bad_field_of_a_row_is_reported()
    {
        var (rows, errors) = ReadUsers(UsersHeader + "-5,\t,\ta@x,\t01/02/2023");

        Assert.Empty(rows);
        Assert.Equal(3, errors.Count);
        AssertError(errors[0], "users.csv", 2, "user_id", "-5");
        AssertError(errors[1], "users.csv", 2, "name", "");
        AssertError(errors[2], "users.csv", 2, "signup_date", "01/02/2023");
    }

    [Fact]
    public void Field_errors_after_quoted_line_breaks_keep_physical_line_numbers()
    {
        const string text = "user_id,name,email,signup_date\n1,\"Alice\nA.\",a@x,2023-01-01\n2,\"Bob\n\nB.\",b@x,2023-02-01\n3,Carol,c@x,2023-02-30\n";

        var (rows, errors) = ReadUsers(text);

        Assert.Equal([1, 2], rows.Select(r => r.UserId));
        AssertError(Assert.Single(errors), "users.csv", 7, "signup_date", "2023-02-30");
    }

    // ---- Invalid values: compounds.csv ----

    [Fact]
    public void Compound_errors_name_the_compounds_file_and_column()
    {
        var (rows, errors) = ReadCompounds(CompoundsHeader + "1,\tA,\tC1\nB2,\tB,\tC2\n3,\t,\tC3\n4,\tD,\t");

        Assert.Equal([new CompoundRow(1, "A", "C1"), new CompoundRow(4, "D", "")], rows);
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], "compounds.csv", 3, "compound_id", "B2");
        AssertError(errors[1], "compounds.csv", 4, "compound_name", "");
    }

    // ---- Invalid values: user_experiments.csv ----

    [Theory]
    [InlineData("")]
    [InlineData(" ")]
    [InlineData(";")]
    [InlineData(" ; ;\t")]
    [InlineData("\"\"")]
    public void Experiment_without_compounds_is_an_error(string value)
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t1,\t10\n2,1," + value + ",10");

        Assert.Single(rows);
        var error = Assert.Single(errors);
        Assert.Equal(("user_experiments.csv", 3L, "experiment_compound_ids"), (error.File, error.Line, error.Column));
        Assert.Contains("at least one compound", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("1;x", "x")]
    [InlineData("1;-2", "-2")]
    [InlineData("1,5", "1,5")] // Quoted; unquoted it is a wrong field count (see below).
    [InlineData("1 2", "1 2")]
    [InlineData("1;2.0", "2.0")]
    [InlineData("1;99999999999", "99999999999")]
    public void Compound_id_that_is_not_a_whole_number_is_an_error_naming_it(string value, string badItem)
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t1,\t10\n2,\t1,\t\"" + value + "\",\t10\n");

        Assert.Single(rows);
        var error = Assert.Single(errors);
        AssertError(error, "user_experiments.csv", 3, "experiment_compound_ids", value);
        Assert.Contains($"'{badItem}'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unquoted_comma_in_the_compound_list_is_a_wrong_field_count()
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "1,\t1,\t1,5,\t10\n");

        Assert.Empty(rows);
        AssertError(Assert.Single(errors), "user_experiments.csv", 2, null, "1,\t1,\t1,5,\t10");
    }

    [Fact]
    public void Bad_experiment_id_user_id_and_run_time_are_errors_in_their_columns()
    {
        var (rows, errors) = ReadExperiments(ExperimentsHeader + "e1,\t1,\t1,\t10\n2,\tu,\t1,\t10\n3,\t1,\t1,\tten\n4,\t1,\t1,\t-10\n5,\t1,\t1,\t");

        Assert.Empty(rows);
        Assert.Equal(5, errors.Count);
        AssertError(errors[0], "user_experiments.csv", 2, "experiment_id", "e1");
        AssertError(errors[1], "user_experiments.csv", 3, "user_id", "u");
        AssertError(errors[2], "user_experiments.csv", 4, "experiment_run_time", "ten");
        AssertError(errors[3], "user_experiments.csv", 5, "experiment_run_time", "-10");
        AssertError(errors[4], "user_experiments.csv", 6, "experiment_run_time", "");
    }
}
