using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Cli;

/// <summary><c>report --format parquet</c>: the file DuckDB reads back holds what <c>report --json</c> prints.</summary>
public sealed class ParquetCliTests : IDisposable
{
    readonly string _scratch = Directory.CreateTempSubdirectory("etl-cli-parquet-test-").FullName;

    string SqliteFile => Path.Combine(_scratch, "experiments.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_scratch, recursive: true);
    }

    [Fact]
    public async Task Report_format_parquet_writes_the_report_that_report_json_prints()
    {
        // Ben has no experiment: his favourite is null in both.
        using var files = new TestFiles(
            users: "user_id,name,email,signup_date\n1,Ann,ann@x,2024-01-02\n2,Ben,ben@x,2024-01-03\n3,\"Cy, Jr\",cy@x,2024-01-04",
            compounds: "compound_id,compound_name,compound_structure\n1,Alpha,C1\n2,Beta,C2",
            experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,2;2,5\n2,3,1,5");
        Assert.Equal(0, (await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile)).ExitCode);
        var parquetFile = Path.Combine(_scratch, "report.parquet");

        var parquet = await CliProcess.RunToFileAsync(parquetFile, "report", "--db", SqliteFile, "--format", "parquet");

        Assert.True(parquet.ExitCode == 0, parquet.ToString());
        Assert.Equal("", parquet.Stderr);
        var json = await CliProcess.RunAsync("report", "--db", SqliteFile, "--json");
        var expected = JsonDocument.Parse(json.Stdout).RootElement.GetProperty("user_reports").EnumerateArray().Select(u => u.ToString()).ToList();
        var rows = (await DuckDbOracle.ReadAsync(parquetFile)).Rows;
        Assert.Equal(3, expected.Count);
        Assert.Equal(expected, rows.Select(r => r.ToString()));
    }

    [Fact]
    public async Task Format_cannot_be_combined_with_json_or_csv_and_takes_only_known_formats()
    {
        var both = await CliProcess.RunAsync("report", "--db", SqliteFile, "--format", "parquet", "--csv");
        Assert.True(both.ExitCode == 1, both.ToString());
        Assert.Contains("error: --format cannot be used with --json or --csv.", both.StderrLines);

        var unknown = await CliProcess.RunAsync("report", "--db", SqliteFile, "--format", "xml");
        Assert.True(unknown.ExitCode == 1, unknown.ToString());
        Assert.StartsWith("error: ", unknown.StderrLines[0], StringComparison.Ordinal);
        Assert.Contains("xml", unknown.StderrLines[0], StringComparison.Ordinal);
        Assert.False(File.Exists(SqliteFile));
    }
}
