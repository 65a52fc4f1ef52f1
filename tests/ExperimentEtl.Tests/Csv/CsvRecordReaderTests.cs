using System.Text;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Csv;

/// <summary>
/// The record layer: both dialects, header handling, physical line numbers and the structural errors
/// (field counts, quotes, header, empty file, encoding), each with its exact file, line, column and value.
/// </summary>
public sealed class CsvRecordReaderTests
{
    internal sealed record Record(long Line, string[] Fields);

    internal static (List<Record> Records, IReadOnlyList<RowError> Errors) Read(CsvSchema schema, byte[] bytes)
    {
        var errors = new ErrorCollector();
        var records = new List<Record>();
        using (var reader = new CsvRecordReader(new MemoryStream(bytes), schema, errors))
        {
            while (reader.MoveNext())
            {
                records.Add(new Record(reader.Line, [.. Enumerable.Range(0, schema.Columns.Count).Select(i => reader[i].ToString())]));
            }
        }
        return (records, errors.Kept);
    }

    internal static (List<Record> Records, IReadOnlyList<RowError> Errors) Read(CsvSchema schema, string text) =>
        Read(schema, Encoding.UTF8.GetBytes(text));

    internal static void AssertError(RowError error, string file, long line, string? column, string? value)
    {
        Assert.Equal(file, error.File);
        Assert.Equal(line, error.Line);
        Assert.Equal(column, error.Column);
        if (value is null)
        {
            Assert.True(string.IsNullOrEmpty(error.Value), $"expected no value, got '{error.Value}'");
        }
        else
        {
            Assert.Equal(value, error.Value);
        }
        Assert.False(string.IsNullOrWhiteSpace(error.Message));
    }

    static byte[] SampleBytes(string fileName) => File.ReadAllBytes(Path.Combine(TestPostgres.RepositoryRoot(), "data", fileName));

    // ---- The seed's dialect ----

    [Fact]
    public void Seed_users_file_with_leading_blank_line_and_no_final_newline_is_read_exactly()
    {
        var bytes = SampleBytes("users.csv");
        Assert.Equal((byte)'\n', bytes[0]); // The premise: a blank first line ...
        Assert.NotEqual((byte)'\n', bytes[^1]); // ... and no final newline.

        var (records, errors) = Read(CsvSchema.Users, bytes);

        Assert.Empty(errors);
        Assert.Equal(Enumerable.Range(3, 10).Select(l => (long)l), records.Select(r => r.Line));
        Assert.Equal(["1", "Alice", "alice@example.com", "2023-01-01"], records[0].Fields);
        Assert.Equal(["10", "Judy", "judy@example.com", "2023-10-01"], records[^1].Fields);
    }

    [Fact]
    public void Seed_compounds_file_keeps_inner_spaces_and_the_unterminated_last_value()
    {
        var (records, errors) = Read(CsvSchema.Compounds, SampleBytes("compounds.csv"));

        Assert.Empty(errors);
        Assert.Equal([2L, 3L, 4L], records.Select(r => r.Line));
        Assert.Equal(["1", "Compound A", "C20H25N3O"], records[0].Fields);
        Assert.Equal(["3", "Compound C", "C8H11NO2"], records[2].Fields);
    }

    [Fact]
    public void Seed_experiments_file_is_read_with_the_compound_list_as_one_field()
    {
        var (records, errors) = Read(CsvSchema.Experiments, SampleBytes("user_experiments.csv"));

        Assert.Empty(errors);
        Assert.Equal(11, records.Count);
        Assert.Equal(["1", "1", "1;2", "10"], records[0].Fields);
        Assert.Equal(["5", "4", "1;2;3", "30"], records[4].Fields);
        Assert.Equal(["11", "10", "1;3", "60"], records[^1].Fields);
        Assert.Equal(12L, records[^1].Line);
    }

    [Fact]
    public void Spaces_and_tabs_around_fields_are_trimmed_but_inner_spaces_kept()
    {
        var (records, errors) = Read(CsvSchema.Users, "user_id ,\t name\t, email,signup_date\n \t1 \t,\t Alice  Smith \t,  a@x.org\t,\t2023-01-01  \n");

        Assert.Empty(errors);
        Assert.Equal(["1", "Alice  Smith", "a@x.org", "2023-01-01"], Assert.Single(records).Fields);
    }

    // ---- RFC 4180 ----

    [Fact]
    public void Plain_rfc4180_file_with_final_newline_is_read()
    {
        var (records, errors) = Read(CsvSchema.Users,
            "user_id,name,email,signup_date\n1,Alice,alice@example.com,2023-01-01\n2,Bob,bob@example.com,2023-02-01\n");

        Assert.Empty(errors);
        Assert.Equal([2L, 3L], records.Select(r => r.Line));
        Assert.Equal(["2", "Bob", "bob@example.com", "2023-02-01"], records[1].Fields);
    }

    [Fact]
    public void Quoted_fields_hold_commas_doubled_quotes_and_line_breaks_and_later_lines_stay_physical()
    {
        const string text =
            "user_id,name,email,signup_date\n" +                        // 1
            "1,\"Alice, the \"\"first\"\"\",alice@example.com,2023-01-01\n" + // 2
            "2,\"Bob\n" +                                                // 3
            "on two lines\",bob@example.com,2023-02-01\n" +             // 4
            "3,\"Carol\n" +                                              // 5
            "\n" +                                                       // 6 (inside quotes: not a blank line)
            "Three\",\"c,@x\",2023-03-01\n" +                            // 7
            "4,Dave,dave@example.com,2023-04-01";                        // 8

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Empty(errors);
        Assert.Equal([2L, 3L, 5L, 8L], records.Select(r => r.Line));
        Assert.Equal("Alice, the \"first\"", records[0].Fields[1]);
        Assert.Equal("Bob\non two lines", records[1].Fields[1]);
        Assert.Equal("Carol\n\nThree", records[2].Fields[1]);
        Assert.Equal("c,@x", records[2].Fields[2]);
        Assert.Equal(["4", "Dave", "dave@example.com", "2023-04-01"], records[3].Fields);
    }

    [Fact]
    public void Quoted_field_with_spaces_or_tabs_before_the_quote_is_still_one_field()
    {
        var (records, errors) = Read(CsvSchema.Users, "user_id,name,email,signup_date\n1,\t \"Smith, Alice\" \t,a@x,2023-01-01\n2,Bob,b@x,2023-02-01");

        Assert.Empty(errors);
        Assert.Equal(["1", "Smith, Alice", "a@x", "2023-01-01"], records[0].Fields);
        Assert.Equal(3L, records[1].Line);
    }

    [Fact]
    public void Crlf_line_endings_are_read_and_counted_as_one_line_each()
    {
        const string text = "user_id,name,email,signup_date\r\n1,Alice,a@x,2023-01-01\r\n2,\"Bob\r\nB\",b@x,2023-02-01\r\n3,Carol,c@x,2023-03-01\r\n";

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Empty(errors);
        Assert.Equal([2L, 3L, 5L], records.Select(r => r.Line));
        Assert.Equal("2023-01-01", records[0].Fields[3]); // No carriage return left on the last field.
        Assert.Equal("Bob\r\nB", records[1].Fields[1]);
        Assert.Equal("2023-03-01", records[2].Fields[3]);
    }

    [Fact]
    public void Utf8_byte_order_mark_is_not_part_of_the_first_header_name()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("user_id,name,email,signup_date\r\n1,Zoë,z@x,2023-01-01\r\n")).ToArray();

        var (records, errors) = Read(CsvSchema.Users, bytes);

        Assert.Empty(errors);
        var record = Assert.Single(records);
        Assert.Equal(2L, record.Line);
        Assert.Equal(["1", "Zoë", "z@x", "2023-01-01"], record.Fields);
    }

    [Fact]
    public void Utf8_byte_order_mark_before_a_headerless_file_is_not_part_of_the_first_value()
    {
        var bytes = Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("7,Compound G,C1")).ToArray();

        var (records, errors) = Read(CsvSchema.Compounds, bytes);

        Assert.Empty(errors);
        Assert.Equal(["7", "Compound G", "C1"], Assert.Single(records).Fields);
    }

    // ---- Header ----

    [Fact]
    public void Header_columns_are_matched_by_name_in_any_order()
    {
        var (records, errors) = Read(CsvSchema.Users, "signup_date,\temail,\tname,\tuser_id\n2023-01-01,\ta@x,\tAlice,\t1\n");

        Assert.Empty(errors);
        Assert.Equal(["1", "Alice", "a@x", "2023-01-01"], Assert.Single(records).Fields);
    }

    [Fact]
    public void Quoted_header_names_are_recognised()
    {
        var (records, errors) = Read(CsvSchema.Compounds, "\"compound_name\", \"compound_id\" ,\"compound_structure\"\n\"Compound A\",1,C1\n");

        Assert.Empty(errors);
        Assert.Equal(["1", "Compound A", "C1"], Assert.Single(records).Fields);
    }

    [Fact]
    public void Extra_columns_are_ignored_even_when_they_hold_quoted_commas()
    {
        const string text = "user_id,notes,name,email,signup_date,score\n1,\"likes a, b\",Alice,a@x,2023-01-01,9\n2,,Bob,b@x,2023-02-01,\n";

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Empty(errors);
        Assert.Equal(["1", "Alice", "a@x", "2023-01-01"], records[0].Fields);
        Assert.Equal(["2", "Bob", "b@x", "2023-02-01"], records[1].Fields);
    }

    [Fact]
    public void File_without_header_uses_the_seed_column_order()
    {
        var (records, errors) = Read(CsvSchema.Experiments, "1,\t1,\t1;2,\t10\n2,\t2,\t3,\t15");

        Assert.Empty(errors);
        Assert.Equal(["1", "1", "1;2", "10"], records[0].Fields);
        Assert.Equal(["2", "2", "3", "15"], records[1].Fields);
    }

    [Fact]
    public void File_without_header_after_a_blank_line_reports_physical_lines()
    {
        var (records, errors) = Read(CsvSchema.Experiments, "\n1,\t1,\t1;2,\t10\n2,\t2,\t3,\t15");

        Assert.Empty(errors);
        Assert.Equal([2L, 3L], records.Select(r => r.Line));
    }

    [Fact]
    public void File_without_header_reports_line_1_for_its_first_row()
    {
        var (records, errors) = Read(CsvSchema.Experiments, "1,\t1,\t1;2,\t10\n2,\t2,\t3,\t15");

        Assert.Empty(errors);
        Assert.Equal([1L, 2L], records.Select(r => r.Line));
    }

    [Fact]
    public void Blank_and_whitespace_only_lines_are_skipped_anywhere_and_lines_stay_physical()
    {
        const string text = "\n\ncompound_id,compound_name,compound_structure\n\n1,A,C1\n \t \n\r\n2,B,C2\n\n\n";

        var (records, errors) = Read(CsvSchema.Compounds, text);

        Assert.Empty(errors);
        Assert.Equal([5L, 8L], records.Select(r => r.Line));
        Assert.Equal(["2", "B", "C2"], records[1].Fields);
    }

    [Fact]
    public void Missing_header_column_is_an_error_on_the_header_line_and_no_rows_are_returned()
    {
        var (records, errors) = Read(CsvSchema.Users, "\nuser_id,\tname,\temail\n1,\tAlice,\ta@x\n");

        Assert.Empty(records);
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 2, "signup_date", null);
        Assert.Contains("signup_date", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_header_column_is_an_error_naming_the_column()
    {
        var (records, errors) = Read(CsvSchema.Users, "\nuser_id,name,email,Name,signup_date\n1,Alice,a@x,Al,2023-01-01\n");

        Assert.Empty(records);
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 2, "name", "Name");
        Assert.Contains("twice", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Duplicate_header_column_on_the_first_line_is_reported_on_line_1()
    {
        var (_, errors) = Read(CsvSchema.Compounds, "compound_id,compound_name,compound_id,compound_structure\n1,A,1,C1\n");

        AssertError(Assert.Single(errors), "compounds.csv", 1, "compound_id", "compound_id");
    }

    // ---- Structural errors ----

    [Fact]
    public void Wrong_field_count_is_an_error_with_the_raw_line_and_the_row_is_skipped()
    {
        const string text = "user_id,name,email,signup_date\n1,Alice,a@x,2023-01-01\n2,\tBob,\tb@x\n3,Carol,c@x,2023-03-01,extra\n4,Dave,d@x,2023-04-01";

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Equal([2L, 5L], records.Select(r => r.Line));
        Assert.Equal(2, errors.Count);
        AssertError(errors[0], "users.csv", 3, null, "2,\tBob,\tb@x");
        Assert.Contains("expected 4 fields, found 3", errors[0].Message, StringComparison.Ordinal);
        AssertError(errors[1], "users.csv", 4, null, "3,Carol,c@x,2023-03-01,extra");
        Assert.Contains("found 5", errors[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rows_must_have_as_many_fields_as_the_header_when_it_has_extra_columns()
    {
        var (records, errors) = Read(CsvSchema.Compounds, "compound_id,compound_name,compound_structure,notes\n1,A,C1,n\n2,B,C2\n");

        Assert.Single(records);
        AssertError(Assert.Single(errors), "compounds.csv", 3, null, "2,B,C2");
    }

    [Fact]
    public void Unclosed_quote_is_one_error_on_the_line_where_the_quote_opens()
    {
        const string text = "user_id,name,email,signup_date\n1,Alice,a@x,2023-01-01\n2,\"Bob,b@x,2023-02-01\n3,Carol,c@x,2023-03-01\n4,Dave,d@x,2023-04-01";

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Equal([2L], records.Select(r => r.Line));
        var error = Assert.Single(errors);
        Assert.Equal(("users.csv", 3L, (string?)null), (error.File, error.Line, error.Column));
        Assert.StartsWith("2,\"Bob", error.Value, StringComparison.Ordinal);
    }

    [Fact]
    public void Unclosed_quote_in_the_last_field_of_the_file_names_the_column()
    {
        var (records, errors) = Read(CsvSchema.Users, "user_id,name,email,signup_date\n1,Alice,a@x,2023-01-01\n2,Bob,b@x,\"2023-02-01");

        Assert.Single(records);
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 3, "signup_date", "\"2023-02-01");
        Assert.Contains("quote", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Stray_quote_inside_a_quoted_field_is_an_error()
    {
        var (records, errors) = Read(CsvSchema.Users, "user_id,name,email,signup_date\n1,\"Al\"ice\"\",a@x,2023-01-01\n2,Bob,b@x,2023-02-01\n");

        Assert.Equal([3L], records.Select(r => r.Line));
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", 2, "name", "\"Al\"ice\"\"");
        Assert.Contains("doubled", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Error_after_quoted_line_breaks_is_reported_on_its_physical_line()
    {
        const string text = "user_id,name,email,signup_date\r\n1,\"A\r\nB\r\nC\",a@x,2023-01-01\r\n2,\"D\nE\",b@x\r\n";

        var (records, errors) = Read(CsvSchema.Users, text);

        Assert.Equal([2L], records.Select(r => r.Line));
        AssertError(Assert.Single(errors), "users.csv", 5, null, "2,\"D\nE\",b@x");
    }

    [Fact]
    public void Empty_file_is_an_error_naming_the_file()
    {
        var (records, errors) = Read(CsvSchema.Compounds, "");

        Assert.Empty(records);
        var error = Assert.Single(errors);
        AssertError(error, "compounds.csv", 0, null, null);
        Assert.Contains("empty", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void File_of_blank_lines_is_an_empty_file()
    {
        var (records, errors) = Read(CsvSchema.Compounds, "\n \t\r\n\n");

        Assert.Empty(records);
        AssertError(Assert.Single(errors), "compounds.csv", 0, null, null);
    }

    [Fact]
    public void Header_only_file_is_an_error_naming_the_file()
    {
        var (records, errors) = Read(CsvSchema.Experiments, "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n\n");

        Assert.Empty(records);
        var error = Assert.Single(errors);
        AssertError(error, "user_experiments.csv", 0, null, null);
        Assert.Contains("no data rows", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Invalid_utf8_far_into_a_file_is_an_error_naming_the_file_not_an_exception()
    {
        var (bytes, badLine) = UsersWithInvalidByte(rows: 5000, badRow: 4990);

        var (records, errors) = Read(CsvSchema.Users, bytes);

        var error = Assert.Single(errors);
        Assert.Equal(("users.csv", (string?)null), (error.File, error.Column));
        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
        Assert.Equal(badLine, error.Line);
        Assert.DoesNotContain(records, r => r.Line == badLine);
    }

    [Fact]
    public void Invalid_utf8_far_into_a_file_is_reported_on_the_line_holding_the_bad_byte()
    {
        var (bytes, badLine) = UsersWithInvalidByte(rows: 5000, badRow: 4990);

        var (_, errors) = Read(CsvSchema.Users, bytes);

        AssertError(Assert.Single(errors), "users.csv", badLine, null, $"{badLine - 1},Bad\uFFFDName,x@example.com,2023-01-01");
    }

    [Fact]
    public void Invalid_utf8_in_a_small_file_is_an_error_naming_the_file_and_line()
    {
        var (bytes, badLine) = UsersWithInvalidByte(rows: 5, badRow: 3);

        var (records, errors) = Read(CsvSchema.Users, bytes);

        Assert.DoesNotContain(records, r => r.Line == badLine);
        Assert.Equal(4, records.Count); // The other rows are still read and checked.
        var error = Assert.Single(errors);
        AssertError(error, "users.csv", badLine, null, $"{badLine - 1},Bad\uFFFDName,x@example.com,2023-01-01");
        Assert.Contains("UTF-8", error.Message, StringComparison.Ordinal);
    }

    /// <summary>A users.csv (header on line 1) whose row <paramref name="badRow"/> has an invalid UTF-8 byte in its name.</summary>
    internal static (byte[] Bytes, long Line) UsersWithInvalidByte(int rows, int badRow)
    {
        var text = new StringBuilder("user_id,name,email,signup_date\n");
        for (var i = 1; i <= rows; i++)
        {
            text.Append(i).Append(i == badRow ? ",Bad#Name," : ",Name,").Append("x@example.com,2023-01-01\n");
        }
        var bytes = Encoding.UTF8.GetBytes(text.ToString());
        bytes[Array.IndexOf(bytes, (byte)'#')] = 0xFF;
        return (bytes, badRow + 1);
    }
}
