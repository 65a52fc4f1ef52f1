using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Cli;

/// <summary>
/// The command-line tool as a script uses it: the built executable run as a process, its stdout, stderr and exit code
/// checked on the bundled sample, on invalid input and on failures, against a SQLite file and a real PostgreSQL.
/// </summary>
public sealed partial class CliTests : IDisposable
{
    readonly string _scratch = Directory.CreateTempSubdirectory("etl-cli-test-").FullName;

    string SqliteFile => Path.Combine(_scratch, "experiments.db");

    public void Dispose()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(_scratch, recursive: true);
    }

    // A table row "│ 1 │ Alice │ 2 │ Compound B │", whatever the border characters.
    [GeneratedRegex(@"\b1\W+Alice\W+2\W+Compound B\b")]
    private static partial Regex AliceRow();

    [GeneratedRegex(@"^[a-z_]+\.csv:[0-9]+: ")]
    private static partial Regex ErrorLine();

    [GeneratedRegex(@"\n\s+at \S")]
    private static partial Regex StackFrame();

    static void AssertOneLineFailure(CliResult result, string expectedStart)
    {
        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.Equal("", result.Stdout);
        var line = Assert.Single(result.StderrLines);
        Assert.StartsWith(expectedStart, line, StringComparison.Ordinal);
        Assert.DoesNotMatch(StackFrame(), result.Stderr);
        Assert.DoesNotContain("Exception", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Etl_into_a_sqlite_file_prints_the_table_and_progress_lines_then_report_reads_the_file()
    {
        using var files = TestFiles.BundledSample();

        var etl = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile);

        Assert.True(etl.ExitCode == 0, etl.ToString());
        Assert.Matches(AliceRow(), etl.Stdout);
        Assert.Contains("Average experiments per user: 1.1 (11 experiments / 10 users)", etl.StdoutLines);
        // Not a terminal: plain progress lines on stderr, one per file, no escape sequences; stdout holds only the report.
        Assert.Contains(etl.StderrLines, line => line.StartsWith("users.csv: ", StringComparison.Ordinal) && line.EndsWith("10 rows", StringComparison.Ordinal));
        Assert.Contains(etl.StderrLines, line => line.StartsWith("compounds.csv: ", StringComparison.Ordinal) && line.EndsWith("3 rows", StringComparison.Ordinal));
        Assert.Contains(etl.StderrLines, line => line.StartsWith("user_experiments.csv: ", StringComparison.Ordinal) && line.EndsWith("11 rows", StringComparison.Ordinal));
        Assert.Contains(etl.StderrLines, line => line.Contains("succeeded in", StringComparison.Ordinal) && line.EndsWith("24 rows loaded.", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', etl.Stderr);
        Assert.DoesNotContain("users.csv", etl.Stdout, StringComparison.Ordinal);

        var csv = await CliProcess.RunAsync("report", "--db", SqliteFile, "--csv");
        Assert.True(csv.ExitCode == 0, csv.ToString());
        Assert.Equal("", csv.Stderr);
        Assert.Equal(11, csv.StdoutLines.Length);
        Assert.Equal("user_id,name,email,count,fav_compound,fav_compound_id", csv.StdoutLines[0]);
        Assert.Equal("1,Alice,alice@example.com,2,Compound B,2", csv.StdoutLines[1]);
        Assert.Equal("2,Bob,bob@example.com,1,Compound A,1", csv.StdoutLines[2]);

        var table = await CliProcess.RunAsync("report", "--db", SqliteFile);
        Assert.True(table.ExitCode == 0, table.ToString());
        Assert.Matches(AliceRow(), table.Stdout);
        Assert.Contains("Average per active user:      1.1 (10 users with at least one experiment)", table.StdoutLines);

        // DATABASE_URL from the environment when --db is absent.
        var json = await CliProcess.RunAsync(new Dictionary<string, string> { ["DATABASE_URL"] = SqliteFile }, "report", "--json");
        Assert.True(json.ExitCode == 0, json.ToString());
        Assert.Equal(1.1, JsonDocument.Parse(json.Stdout).RootElement.GetProperty("average_experiment_count").GetDouble());
    }

    [Theory]
    [InlineData(Backend.Postgres)]
    [InlineData(Backend.Citus)]
    public async Task Etl_into_postgres_prints_the_table_and_report_reads_it_back(Backend backend)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();

        var etl = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", database);

        Assert.True(etl.ExitCode == 0, etl.ToString());
        Assert.Matches(AliceRow(), etl.Stdout);
        Assert.Contains(etl.StderrLines, line => line.Contains("loading", StringComparison.Ordinal) && line.Contains("into PostgreSQL", StringComparison.Ordinal));
        Assert.Contains("First load: 10 users, 3 compounds, 11 experiments added.", etl.StderrLines);

        var report = await CliProcess.RunAsync("report", "--db", database);
        Assert.True(report.ExitCode == 0, report.ToString());
        Assert.Matches(AliceRow(), report.Stdout);
        Assert.Contains("Average experiments per user: 1.1 (11 experiments / 10 users)", report.StdoutLines);
    }

    [Fact]
    public async Task Etl_json_prints_the_report_json_of_get_report_and_nothing_else_on_stdout()
    {
        using var files = TestFiles.BundledSample();

        var result = await CliProcess.RunAsync("etl", "--data", files.Directory, "--json");

        Assert.True(result.ExitCode == 0, result.ToString());
        var report = JsonDocument.Parse(result.Stdout).RootElement;
        Assert.Equal(1.1, report.GetProperty("average_experiment_count").GetDouble());
        Assert.Equal(1.1, report.GetProperty("average_experiment_count_active_users").GetDouble());
        Assert.Equal(10, report.GetProperty("user_count").GetInt64());
        Assert.Equal(11, report.GetProperty("experiment_count").GetInt64());
        var users = report.GetProperty("user_reports").EnumerateArray().ToList();
        Assert.Equal(10, users.Count);
        Assert.Equal("Alice", users[0].GetProperty("name").GetString());
        Assert.Equal(2, users[0].GetProperty("count").GetInt32());
        Assert.Equal("Compound B", users[0].GetProperty("fav_compound").GetString());
        Assert.Equal(2, users[0].GetProperty("fav_compound_id").GetInt32());
        Assert.Equal(
            report.GetProperty("run_id").GetString(),
            Regex.Match(result.Stderr, @"Run (\S+) succeeded").Groups[1].Value);
    }

    /// <summary>
    /// The bundled sample edited: Bob renamed Robert, Mallory added (no experiments), Judy's only experiment (11) removed,
    /// experiment 12 added for Alice with compound 2. Against the sample, by hand: users 1 added, 0 removed, 1 changed
    /// (Bob), 9 unchanged; compounds 3 unchanged; experiments 1 added, 1 removed, 10 unchanged; the favourite compound
    /// changes for Judy only (A to none; Alice's stays B, now 3 of her 3 experiments), the experiment count for Alice
    /// (2 to 3) and Judy (1 to 0); Mallory, added, counts in neither; the average goes from 11 / 10 to 11 / 11.
    /// </summary>
    static void WriteEditedSample(TestFiles files)
    {
        files.Write("users.csv", """
            user_id,	name,	email,	signup_date
            1,	Alice,	alice@example.com,	2023-01-01
            2,	Robert,	bob@example.com,	2023-02-01
            3,	Carol,	carol@example.com,	2023-03-01
            4,	Dave,	dave@example.com,	2023-04-01
            5,	Eve,	eve@example.com,	2023-05-01
            6,	Frank,	frank@example.com,	2023-06-01
            7,	Grace,	grace@example.com,	2023-07-01
            8,	Heidi,	heidi@example.com,	2023-08-01
            9,	Ivan,	ivan@example.com,	2023-09-01
            10,	Judy,	judy@example.com,	2023-10-01
            11,	Mallory,	mallory@example.com,	2023-11-01
            """);
        files.Write("user_experiments.csv", """
            experiment_id,	user_id,	experiment_compound_ids,	experiment_run_time
            1,	1,	1;2,	10
            2,	1,	2;3,	15
            3,	2,	1;3,	20
            4,	3,	2;3,	25
            5,	4,	1;2;3,	30
            6,	5,	2;3,	35
            7,	6,	1;3,	40
            8,	7,	2;3,	45
            9,	8,	1;2,	50
            10,	9,	2;3,	55
            12,	1,	2,	70
            """);
    }

    /// <summary>Stderr's lines with runs of spaces as one, so that a check does not depend on the columns' alignment.</summary>
    static string[] SpacedLines(CliResult result) => [.. result.StderrLines.Select(line => Spaces().Replace(line, " "))];

    [GeneratedRegex(" {2,}")]
    private static partial Regex Spaces();

    static string SucceededRunId(CliResult result) => Regex.Match(result.Stderr, @"Run (\S+) succeeded").Groups[1].Value;

    [Fact]
    public async Task Etl_on_a_sqlite_file_prints_what_each_load_changed_against_what_the_file_held()
    {
        using var files = TestFiles.BundledSample();

        var first = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile);

        Assert.True(first.ExitCode == 0, first.ToString());
        Assert.Contains("First load: 10 users, 3 compounds, 11 experiments added.", first.StderrLines);
        Assert.DoesNotContain("First load", first.Stdout, StringComparison.Ordinal);

        WriteEditedSample(files);
        var second = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile);

        Assert.True(second.ExitCode == 0, second.ToString());
        var lines = SpacedLines(second);
        var start = Array.IndexOf(lines, $"Since the previous load (run {SucceededRunId(first)}):");
        Assert.True(start > 0, second.ToString());
        Assert.Equal(
            [
                "users: 1 added, 0 removed, 1 changed, 9 unchanged",
                "compounds: 0 added, 0 removed, 0 changed, 3 unchanged",
                "experiments: 1 added, 1 removed, 0 changed, 10 unchanged",
                "favourite compound changed for 1 user, experiment count for 2 users",
                "average experiments per user: 1.1 -> 1",
            ],
            lines[(start + 1)..(start + 6)]);
        // After the run's own lines, and stdout still holds only the report.
        Assert.True(Array.FindIndex(lines, line => line.Contains("succeeded in", StringComparison.Ordinal)) < start, second.ToString());
        Assert.DoesNotContain("previous load", second.Stdout, StringComparison.Ordinal);
        Assert.Contains("Average experiments per user: 1 (11 experiments / 11 users)", second.StdoutLines);
    }

    [Fact]
    public async Task Etl_json_adds_the_changes_of_the_load_to_the_report_json()
    {
        using var files = TestFiles.BundledSample();

        var first = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile, "--json");

        Assert.True(first.ExitCode == 0, first.ToString());
        var firstChanges = JsonDocument.Parse(first.Stdout).RootElement.GetProperty("changes");
        Assert.Equal(SucceededRunId(first), firstChanges.GetProperty("run_id").GetString());
        Assert.Equal(JsonValueKind.Null, firstChanges.GetProperty("previous_run_id").ValueKind);
        AssertCounts(firstChanges.GetProperty("users"), 10, 0, 0, 0);
        AssertCounts(firstChanges.GetProperty("compounds"), 3, 0, 0, 0);
        AssertCounts(firstChanges.GetProperty("experiments"), 11, 0, 0, 0);
        Assert.Equal(JsonValueKind.Null, firstChanges.GetProperty("average_experiment_count").GetProperty("before").ValueKind);
        Assert.Contains("First load: 10 users, 3 compounds, 11 experiments added.", first.StderrLines);

        WriteEditedSample(files);
        var second = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile, "--json");

        Assert.True(second.ExitCode == 0, second.ToString());
        var report = JsonDocument.Parse(second.Stdout).RootElement;
        var changes = report.GetProperty("changes");
        Assert.Equal(SucceededRunId(second), changes.GetProperty("run_id").GetString());
        Assert.Equal(SucceededRunId(first), changes.GetProperty("previous_run_id").GetString());
        AssertCounts(changes.GetProperty("users"), 1, 0, 1, 9);
        AssertCounts(changes.GetProperty("compounds"), 0, 0, 0, 3);
        AssertCounts(changes.GetProperty("experiments"), 1, 1, 0, 10);
        Assert.Equal(1, changes.GetProperty("fav_compound_changed").GetInt64());
        Assert.Equal(2, changes.GetProperty("count_changed").GetInt64());
        Assert.Equal(1.1, changes.GetProperty("average_experiment_count").GetProperty("before").GetDouble());
        Assert.Equal(1.0, changes.GetProperty("average_experiment_count").GetProperty("after").GetDouble());

        // The rest is GET /report's JSON, as `report --json` prints it: "changes" is the one property added.
        var stored = await CliProcess.RunAsync("report", "--db", SqliteFile, "--json");
        Assert.True(stored.ExitCode == 0, stored.ToString());
        var reportProperties = JsonDocument.Parse(stored.Stdout).RootElement.EnumerateObject().Select(p => p.Name).ToList();
        Assert.Equal([.. reportProperties, "changes"], report.EnumerateObject().Select(p => p.Name).ToList());
        Assert.Equal(11, report.GetProperty("user_count").GetInt64());
    }

    static void AssertCounts(JsonElement counts, long added, long removed, long changed, long unchanged) =>
        Assert.Equal(
            (added, removed, changed, unchanged),
            (counts.GetProperty("added").GetInt64(), counts.GetProperty("removed").GetInt64(),
                counts.GetProperty("changed").GetInt64(), counts.GetProperty("unchanged").GetInt64()));

    [Fact]
    public async Task Invalid_input_exits_2_with_file_line_column_errors_and_keeps_the_previous_data()
    {
        using (var sample = TestFiles.BundledSample())
        {
            Assert.Equal(0, (await CliProcess.RunAsync("etl", "--data", sample.Directory, "--db", SqliteFile)).ExitCode);
        }
        using var files = TestFiles.BundledSample();
        files.Write("user_experiments.csv",
            "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1;2,10\n2,1,2,ten\n3,99,1,20\n");

        var result = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", SqliteFile);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal("", result.Stdout);
        Assert.Contains("user_experiments.csv:3: experiment_run_time: must be a whole number from 0 to 2147483647 (value \"ten\")", result.StderrLines);
        Assert.Contains("user_experiments.csv:4: user_id: user_id 99 does not match a valid user in users.csv", result.StderrLines);
        Assert.Equal("error: 2 errors in the input; nothing was loaded and the previous data is unchanged.", result.StderrLines[^1]);
        Assert.DoesNotMatch(StackFrame(), result.Stderr);

        var csv = await CliProcess.RunAsync("report", "--db", SqliteFile, "--csv");
        Assert.Contains("1,Alice,alice@example.com,2,Compound B,2", csv.StdoutLines);
        Assert.Equal(11, csv.StdoutLines.Length);
    }

    [Fact]
    public async Task Many_errors_print_the_first_100_and_the_total()
    {
        var experiments = new StringBuilder("experiment_id,user_id,experiment_compound_ids,experiment_run_time\n");
        for (var i = 1; i <= 150; i++)
        {
            experiments.Append(System.Globalization.CultureInfo.InvariantCulture, $"{i},1,1,slow\n");
        }
        using var files = TestFiles.BundledSample();
        files.Write("user_experiments.csv", experiments.ToString());

        var result = await CliProcess.RunAsync("etl", "--data", files.Directory);

        Assert.True(result.ExitCode == 2, result.ToString());
        var errors = result.StderrLines.Where(line => ErrorLine().IsMatch(line)).ToList();
        Assert.Equal(100, errors.Count);
        Assert.StartsWith("user_experiments.csv:2: experiment_run_time: ", errors[0], StringComparison.Ordinal);
        Assert.StartsWith("user_experiments.csv:101: experiment_run_time: ", errors[^1], StringComparison.Ordinal);
        Assert.Equal("error: 150 errors in the input (the first 100 are listed); nothing was loaded and the previous data is unchanged.",
            result.StderrLines[^1]);
    }

    [Fact]
    public async Task Lenient_skips_invalid_rows_lists_them_and_loads_the_rest()
    {
        using var files = TestFiles.BundledSample();
        files.Write("user_experiments.csv",
            "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1;2,10\n2,1,2,ten\n3,1,2,30\n");

        var result = await CliProcess.RunAsync("etl", "--data", files.Directory, "--lenient");

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("user_experiments.csv:3: experiment_run_time: must be a whole number from 0 to 2147483647 (row skipped)", result.StderrLines);
        Assert.Contains("warning: 1 invalid row was skipped; the other rows were loaded.", result.StderrLines);
        Assert.Matches(AliceRow(), result.Stdout);
    }

    [Fact]
    public async Task The_tool_reads_appsettings_json_next_to_the_executable_as_the_service_does_not_in_the_working_folder()
    {
        using var files = TestFiles.BundledSample();
        // A stray appsettings.json in the folder the tool is started from, with a setting the tool would refuse.
        var workingFolder = Directory.CreateDirectory(Path.Combine(_scratch, "elsewhere")).FullName;
        File.WriteAllText(Path.Combine(workingFolder, "appsettings.json"), """{ "ETL_MEMORY_LIMIT_MB": "not a number" }""");

        var result = await CliProcess.RunInAsync(workingFolder, new Dictionary<string, string>(), "etl", "--data", files.Directory, "--db", SqliteFile);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Matches(AliceRow(), result.Stdout);
    }

    [Fact]
    public async Task A_missing_data_folder_exits_1_with_one_line()
    {
        var missing = Path.Combine(_scratch, "no-such-folder");

        var result = await CliProcess.RunAsync("etl", "--data", missing, "--db", SqliteFile);

        AssertOneLineFailure(result, $"error: the data folder {missing} does not exist");
    }

    [Fact]
    public async Task An_unreachable_database_exits_1_with_one_line_and_no_password()
    {
        using var files = TestFiles.BundledSample();
        var port = ClosedPort();

        var result = await CliProcess.RunAsync("etl", "--data", files.Directory, "--db", $"postgres://etl:s3cret-pw@127.0.0.1:{port}/etl");

        AssertOneLineFailure(result, $"error: cannot use PostgreSQL 127.0.0.1:{port}/etl: ");
        Assert.DoesNotContain("s3cret-pw", result.Stderr, StringComparison.Ordinal);

        var report = await CliProcess.RunAsync("report", "--db", $"postgres://etl:s3cret-pw@127.0.0.1:{port}/etl");
        AssertOneLineFailure(report, $"error: cannot use PostgreSQL 127.0.0.1:{port}/etl: ");
    }

    [Fact]
    public async Task Report_without_a_database_says_so()
    {
        var result = await CliProcess.RunAsync("report");

        AssertOneLineFailure(result, "error: no database to report from: pass --db URL or set DATABASE_URL");
    }

    [Fact]
    public async Task Report_on_a_sqlite_file_that_does_not_exist_says_so_and_creates_nothing()
    {
        var result = await CliProcess.RunAsync("report", "--db", SqliteFile);

        AssertOneLineFailure(result, $"error: the SQLite file {SqliteFile} does not exist");
        Assert.False(File.Exists(SqliteFile));
    }

    [Fact]
    public async Task Usage_errors_exit_1()
    {
        var both = await CliProcess.RunAsync("report", "--db", SqliteFile, "--json", "--csv");
        Assert.True(both.ExitCode == 1, both.ToString());
        Assert.Contains("error: --json and --csv cannot be used together.", both.StderrLines);

        var noData = await CliProcess.RunAsync("etl");
        Assert.True(noData.ExitCode == 1, noData.ToString());
        Assert.Contains("error: Option '--data' is required.", noData.StderrLines);

        var typo = await CliProcess.RunAsync("reprot");
        Assert.True(typo.ExitCode == 1, typo.ToString());
        Assert.Contains("error: Unrecognized command or argument 'reprot'.", typo.StderrLines);
    }

    [Fact]
    public async Task Help_lists_the_commands()
    {
        var result = await CliProcess.RunAsync("--help");

        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var command in new[] { "etl", "report", "serve" })
        {
            Assert.Contains(result.StdoutLines, line => line.StartsWith(command + " ", StringComparison.Ordinal));
        }
    }

    [Theory]
    [InlineData("serve")]
    [InlineData(null)]
    public async Task Serve_and_no_command_run_the_web_service_with_aspnet_options(string? command)
    {
        var port = ClosedPort();
        string[] arguments = command is null ? ["--urls", $"http://127.0.0.1:{port}"] : [command, "--urls", $"http://127.0.0.1:{port}"];
        using var process = CliProcess.Start(new Dictionary<string, string> { ["Logging__LogLevel__Default"] = "Warning" }, arguments);
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{port}"), Timeout = TimeSpan.FromSeconds(10) };
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (true)
            {
                Assert.False(process.HasExited, $"the service exited: {output}");
                try
                {
                    if ((await client.GetAsync("/healthz")).StatusCode == HttpStatusCode.OK)
                    {
                        break;
                    }
                }
                catch (HttpRequestException)
                {
                }
                Assert.True(DateTime.UtcNow < deadline, $"the service did not answer on port {port} within 60 s: {output}");
                await Task.Delay(100);
            }
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode);
        }
        finally
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>A loopback port nothing listens on (it was free a moment ago).</summary>
    static int ClosedPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
