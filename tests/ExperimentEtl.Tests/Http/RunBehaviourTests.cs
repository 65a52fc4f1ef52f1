using System.Globalization;
using System.Net;
using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExperimentEtl.Tests.Http;

/// <summary>Atomic, repeatable, exclusive runs, seen through the HTTP API on every backend.</summary>
public sealed class RunBehaviourTests
{
    static async Task<string> ReportAsync(HttpClient client)
    {
        var response = await client.GetAsync("/report");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var report = await response.ReadJsonAsync();
        // What a reader sees: the average and the users; run ids and timestamps differ between identical loads.
        return JsonSerializer.Serialize(new
        {
            average = report.GetProperty("average_experiment_count"),
            users = report.GetProperty("user_reports"),
        });
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Running_csv_twice_gives_the_same_report(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var first = await ReportAsync(client);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        Assert.Equal(first, await ReportAsync(client));
        Assert.Contains("\"user_id\":10", first, StringComparison.Ordinal);
        Assert.DoesNotContain("\"user_id\":11", first, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Invalid_input_answers_422_with_located_errors_and_keeps_the_previous_data(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var before = await ReportAsync(client);

        files.Write("user_experiments.csv",
            "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1;2,\t10\n2,\t1,\t2;3,\tten\n3,\t99,\t1,\t5");
        var response = await client.GetAsync("/csv");

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonAsync();
        Assert.Equal(422, problem.GetProperty("status").GetInt32());
        Assert.Equal(2, problem.GetProperty("error_count").GetInt64());
        var errors = problem.GetProperty("errors").EnumerateArray().ToList();
        Assert.Equal(("user_experiments.csv", 3, "experiment_run_time", "ten"),
            (errors[0].GetProperty("file").GetString(), errors[0].GetProperty("line").GetInt32(),
             errors[0].GetProperty("column").GetString(), errors[0].GetProperty("value").GetString()));
        Assert.Equal((4, "user_id", "99"),
            (errors[1].GetProperty("line").GetInt32(), errors[1].GetProperty("column").GetString(), errors[1].GetProperty("value").GetString()));
        Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);

        Assert.Equal(before, await ReportAsync(client));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_missing_file_is_named_in_the_error(Backend backend)
    {
        using var files = new TestFiles(compounds: null);
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var response = await app.CreateClient().GetAsync("/csv");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("errors")[0];
        Assert.Equal("compounds.csv", error.GetProperty("file").GetString());
        Assert.Contains("not found", error.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_second_run_while_one_is_in_progress_answers_409_and_the_first_completes(Backend backend)
    {
        using var files = new TestFiles(users: null);
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        await using var users = new Fifo(Path.Combine(files.Directory, "users.csv"));

        var first = client.GetAsync("/csv");
        await users.WaitForReaderAsync();
        var second = await client.GetAsync("/csv");

        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);
        var problem = await second.ReadJsonAsync();
        Assert.Equal(409, problem.GetProperty("status").GetInt32());

        await users.WriteAsync(TestFiles.SeedUsers);
        await users.CloseAsync();
        Assert.Equal(HttpStatusCode.OK, (await first).StatusCode);

        // The lock is released before the answer: a sequential caller never sees 409.
        files.Write("users.csv", TestFiles.SeedUsers);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Readers_see_the_previous_report_while_a_run_loads_then_the_new_one(Backend backend)
    {
        await using var held = await HeldRun.StartAsync(backend);
        var (client, old, experiments, run) = (held.Client, held.OldReport, held.Experiments, held.Run);
        // Users and compounds are loaded by now; experiments are half-way.
        await experiments.WriteAsync("experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1,\t10\n");
        Assert.Equal(old, await ReportAsync(client));
        // Read from the database (the report may come from a cache): answered at once, from the previous data set.
        var summary = await (await client.GetAsync("/api/summary").WaitAsync(TimeSpan.FromSeconds(20))).ReadJsonAsync();
        Assert.Equal(11, summary.GetProperty("experiments").GetInt64());
        var page = await (await client.GetAsync("/api/users?limit=2&after=3").WaitAsync(TimeSpan.FromSeconds(20))).ReadJsonAsync();
        Assert.Equal(4, page.GetProperty("users")[0].GetProperty("user_id").GetInt32());

        await experiments.CloseAsync();
        Assert.Equal(HttpStatusCode.OK, (await run).StatusCode);
        var updated = await ReportAsync(client);
        Assert.NotEqual(old, updated);
        Assert.Contains("\"average\":0.1", updated, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Concurrent_readers_across_a_commit_all_get_answers_of_the_old_or_the_new_data_set(Backend backend)
    {
        await using var held = await HeldRun.StartAsync(backend);
        var (client, experiments, run) = (held.Client, held.Experiments, held.Run);
        // Users and experiments counted by /api/summary: 10 and 11 before, 10 and the rows written below after.
        const int newExperiments = 3000;
        var readers = Enumerable.Range(0, 8).Select(async reader =>
        {
            var seen = new List<string>();
            // Bounded: each reader stops when the run has ended, or after 300 requests.
            for (var i = 0; i < 300 && (i < 5 || !run.IsCompleted); i++)
            {
                var path = (reader % 3) switch { 0 => "/report", 1 => "/api/users?limit=5", _ => "/api/summary" };
                var response = await client.GetAsync(path);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                if (path == "/api/summary")
                {
                    var summary = await response.ReadJsonAsync();
                    seen.Add($"{summary.GetProperty("users")}/{summary.GetProperty("experiments")}");
                }
            }
            return seen;
        }).ToList();

        var rows = new System.Text.StringBuilder("experiment_id,user_id,experiment_compound_ids,experiment_run_time\n");
        for (var id = 1; id <= newExperiments; id++)
        {
            rows.Append(CultureInfo.InvariantCulture, $"{id},{id % 10 + 1},1;2,5\n");
        }
        await experiments.WriteAsync(rows.ToString());
        await experiments.CloseAsync();
        Assert.Equal(HttpStatusCode.OK, (await run).StatusCode);

        var answers = (await Task.WhenAll(readers)).SelectMany(seen => seen).ToList();
        Assert.NotEmpty(answers);
        Assert.All(answers, answer => Assert.Contains(answer, new[] { "10/11", $"10/{newExperiments}" }));
    }

    [Theory]
    [InlineData(Backend.Postgres)]
    [InlineData(Backend.Citus)]
    public async Task A_lost_database_connection_fails_the_run_with_503_and_keeps_the_previous_data(Backend backend)
    {
        await using var held = await HeldRun.StartAsync(backend);
        var (app, files, client, old, experiments, run) = (held.App, held.Files, held.Client, held.OldReport, held.Experiments, held.Run);
        await TerminateLoadConnectionsAsync(app);
        await experiments.WriteAsync(File.ReadAllText(Path.Combine(TestPostgres.RepositoryRoot(), "data", "user_experiments.csv")));
        await experiments.CloseAsync();

        var response = await run;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Equal("The database is unavailable", problem.GetProperty("title").GetString());
        Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);

        Assert.Equal(old, await ReportAsync(client));
        // The service recovers by itself: the next run succeeds.
        files.Write("user_experiments.csv", File.ReadAllText(Path.Combine(TestPostgres.RepositoryRoot(), "data", "user_experiments.csv")));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
    }

    static async Task TerminateLoadConnectionsAsync(EtlAppFactory app)
    {
        var target = app.Services.GetRequiredService<Configuration.DatabaseTarget>();
        var database = new NpgsqlConnectionStringBuilder(target.ConnectionString).Database;
        await using var connection = new NpgsqlConnection(target.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'",
            connection);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = database });
        Assert.True((long)(await command.ExecuteScalarAsync())! >= 1, "no load connection to terminate");
    }

    [Theory]
    [InlineData(Backend.Postgres)]
    [InlineData(Backend.Citus)]
    public async Task A_run_committed_by_another_replica_shows_in_the_report_within_a_second_or_two(Backend backend)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();
        using var other = new TestFiles();
        await using var reader = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        await using var writer = await EtlAppFactory.CreateWithDatabaseAsync(database, other.Directory);
        var readerClient = reader.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await readerClient.GetAsync("/csv")).StatusCode);
        var before = await ReportAsync(readerClient);

        Assert.Equal(HttpStatusCode.OK, (await writer.CreateClient().GetAsync("/csv")).StatusCode);

        var deadline = DateTime.UtcNow.AddSeconds(5);
        string now;
        while ((now = await ReportAsync(readerClient)) == before)
        {
            Assert.True(DateTime.UtcNow < deadline, "the other replica's run did not show within 5 s");
            await Task.Delay(100);
        }
        Assert.Equal(await ReportAsync(writer.CreateClient()), now);
    }

    /// <summary>
    /// An app that has loaded the bundled sample and started a second run whose user_experiments.csv is a pipe:
    /// users and compounds are loaded, and the run waits for the experiments the test writes.
    /// </summary>
    sealed class HeldRun : IAsyncDisposable
    {
        public required TestFiles Files { get; init; }

        public required EtlAppFactory App { get; init; }

        public required HttpClient Client { get; init; }

        public required string OldReport { get; init; }

        public required Fifo Experiments { get; init; }

        public required Task<HttpResponseMessage> Run { get; init; }

        public static async Task<HeldRun> StartAsync(Backend backend)
        {
            var files = TestFiles.BundledSample();
            var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
            var client = app.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
            var old = await ReportAsync(client);
            File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
            var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
            var run = client.GetAsync("/csv");
            await experiments.WaitForReaderAsync();
            return new HeldRun { Files = files, App = app, Client = client, OldReport = old, Experiments = experiments, Run = run };
        }

        public async ValueTask DisposeAsync()
        {
            await Experiments.DisposeAsync();
            await App.DisposeAsync();
            Files.Dispose();
        }
    }
}
