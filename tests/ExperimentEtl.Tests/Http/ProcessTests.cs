using System.Net;
using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;
using Npgsql;

namespace ExperimentEtl.Tests.Http;

/// <summary>
/// Behaviour that is about processes, on real server processes and a real PostgreSQL: replicas racing for the one run,
/// kill -9 and SIGTERM during a run, and the database going away during a run.
/// </summary>
public sealed class ProcessTests
{
    const string ExperimentsHeader = "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time";

    // Endless valid experiments over the bundled sample's 10 users and 3 compounds.
    static string Experiment(long id) => $"{id},\t{1 + (id % 10)},\t{1 + (id % 3)};3,\t{id % 100}";

    /// <param name="apply">"full": every load replaces the data set whole; "changes": reloads apply only what changed,
    /// however much; null: the service's default.</param>
    static Dictionary<string, string> Environment(string databaseUrl, string dataDirectory, string? apply = null)
    {
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = databaseUrl,
            ["ETL_DATA_DIR"] = dataDirectory,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        if (apply is not null)
        {
            environment["ETL_APPLY_CHANGES_UP_TO"] = apply == "full" ? "0" : "1";
        }
        return environment;
    }

    /// <summary>The durable backends, each with reloads applied in full and (not on Citus) as changes only.</summary>
    public static TheoryData<Backend, string> DurableAndApply => new()
    {
        { Backend.SqliteFile, "full" }, { Backend.SqliteFile, "changes" }, { Backend.Postgres, "full" }, { Backend.Postgres, "changes" }, { Backend.Citus, "full" },
    };

    static async Task<string> ReportAsync(HttpClient client)
    {
        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        return JsonSerializer.Serialize(new { a = report.GetProperty("average_experiment_count"), u = report.GetProperty("user_reports") });
    }

    static async Task<JsonElement> WaitForStatusAsync(HttpClient client, string runId, Func<string, bool> done, int seconds = 30)
    {
        var deadline = DateTime.UtcNow.AddSeconds(seconds);
        while (true)
        {
            var run = await (await client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
            if (done(run.GetProperty("status").GetString()!))
            {
                return run;
            }
            Assert.True(DateTime.UtcNow < deadline, $"run {runId} is still {run.GetProperty("status").GetString()} after {seconds} s");
            await Task.Delay(100);
        }
    }

    static async Task WaitForRowsReadAsync(HttpClient client, string runId, long rows)
    {
        await WaitForStatusAsync(client, runId, status => status != "queued");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var run = await (await client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
            var files = run.GetProperty("files").EnumerateArray().ToList();
            if (files.Count == 3 || (files.Count > 0 && files[^1].GetProperty("file").GetString() == "user_experiments.csv" && files[^1].GetProperty("rows_read").GetInt64() >= rows))
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run did not progress");
            await Task.Delay(50);
        }
    }

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task Two_servers_on_one_database_run_one_run_at_a_time(Backend backend)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();
        File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var first = await ServerProcess.StartAsync(Environment(database, files.Directory));
        await using var second = await ServerProcess.StartAsync(Environment(database, files.Directory));

        var answers = await Task.WhenAll(first.Client.PostAsync("/api/etl/runs", null), second.Client.PostAsync("/api/etl/runs", null));

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order());
        var winner = answers.Single(a => a.StatusCode == HttpStatusCode.Accepted);
        var runId = (await winner.ReadJsonAsync()).GetProperty("run_id").GetString()!;
        var conflict = await answers.Single(a => a.StatusCode == HttpStatusCode.Conflict).ReadJsonAsync();
        Assert.Equal(runId, conflict.GetProperty("running_run_id").GetString());

        // Whichever server is asked, the run is visible and a further start is refused.
        var other = winner == answers[0] ? second : first;
        Assert.Equal(HttpStatusCode.Conflict, (await other.Client.PostAsync("/api/etl/runs", null)).StatusCode);

        await experiments.WriteAsync(File.ReadAllText(Path.Combine(TestPostgres.RepositoryRoot(), "data", "user_experiments.csv")));
        await experiments.CloseAsync();
        var run = await WaitForStatusAsync(other.Client, runId, status => status is not ("queued" or "running"));
        Assert.Equal("succeeded", run.GetProperty("status").GetString());
    }

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task Concurrent_starts_on_two_servers_are_refused_with_the_run_that_started(Backend backend)
    {
        const int Rounds = 3;
        const int StartsPerServer = 4;
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();
        var experimentsPath = Path.Combine(files.Directory, "user_experiments.csv");
        var sample = File.ReadAllText(Path.Combine(TestPostgres.RepositoryRoot(), "data", "user_experiments.csv"));
        File.Delete(experimentsPath);
        await using var first = await ServerProcess.StartAsync(Environment(database, files.Directory));
        await using var second = await ServerProcess.StartAsync(Environment(database, files.Directory));
        ServerProcess[] servers = [first, second];

        // Every round the winner's run holds the database (its experiments file is a pipe not yet written) while the
        // losing server's first start waits out the load lock's patience: its other starts meet its own gate meanwhile.
        var conflicts = 0;
        var misnamed = new List<string>();
        for (var round = 1; round <= Rounds; round++)
        {
            File.Delete(experimentsPath);
            await using var experiments = new Fifo(experimentsPath);
            var posts = servers.SelectMany(server => Enumerable.Range(0, StartsPerServer).Select(_ => (server, answer: server.Client.PostAsync("/api/etl/runs", null)))).ToList();
            await Task.WhenAll(posts.Select(p => p.answer));
            var answers = new List<(ServerProcess Server, HttpResponseMessage Answer)>();
            foreach (var (server, answer) in posts)
            {
                answers.Add((server, await answer));
            }

            var started = answers.Where(a => a.Answer.StatusCode == HttpStatusCode.Accepted).ToList();
            Assert.True(started.Count == 1 && answers.All(a => a.Answer.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict),
                $"round {round}: {string.Join(", ", answers.Select(a => (int)a.Answer.StatusCode))}");
            var (winner, accepted) = started[0];
            var runId = (await accepted.ReadJsonAsync()).GetProperty("run_id").GetString()!;
            foreach (var (_, answer) in answers.Where(a => a.Answer.StatusCode == HttpStatusCode.Conflict))
            {
                conflicts++;
                var problem = await answer.ReadJsonAsync();
                var named = problem.GetProperty("running_run_id").GetString();
                if (named != runId || !problem.GetProperty("detail").GetString()!.Contains($"/api/etl/runs/{runId}", StringComparison.Ordinal))
                {
                    misnamed.Add($"round {round}: {named ?? "no run"} instead of {runId}");
                }
            }
            // The run a 409 names can be followed on either server.
            foreach (var server in servers)
            {
                var run = await (await server.Client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
                Assert.Equal(runId, run.GetProperty("run_id").GetString());
                Assert.True(run.GetProperty("status").GetString() is "queued" or "running");
            }

            await experiments.WriteAsync(sample);
            await experiments.CloseAsync();
            var ended = await WaitForStatusAsync(winner.Client, runId, status => status is not ("queued" or "running"));
            Assert.Equal("succeeded", ended.GetProperty("status").GetString());
            // Answers once the winner's server has let go of its run (409: it has ended), so the next round starts afresh.
            await winner.Client.DeleteAsync($"/api/etl/runs/{runId}");
        }

        Assert.Equal(Rounds * (2 * StartsPerServer - 1), conflicts);
        Assert.True(misnamed.Count == 0, $"{misnamed.Count} of {conflicts} 409s named another run: {string.Join("; ", misnamed)}");
    }

    [Theory]
    [MemberData(nameof(DurableAndApply))]
    public async Task A_server_killed_during_a_run_and_restarted_at_once_leaves_the_data_intact_and_marks_the_run_failed(Backend backend, string apply)
    {
        using var files = TestFiles.BundledSample();
        var (database, before, runId) = await InterruptStreamingRunAsync(backend, files.Directory, server => server.KillAsync(), apply);

        // Restarted at once, as a supervisor does: the killed session may still hold the load lock for a moment.
        await using var restarted = await ServerProcess.StartAsync(Environment(database, files.Directory, apply));
        var run = await WaitForStatusAsync(restarted.Client, runId, status => status is not ("queued" or "running"), seconds: 15);
        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Contains("stopped", run.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, await ReportAsync(restarted.Client));
    }

    [Fact]
    public async Task The_generation_a_server_killed_during_its_load_left_behind_is_dropped_by_the_next_load()
    {
        // On PostgreSQL a load's generation schema is committed empty at its start, for its feature tables' connection:
        // a killed server leaves it (its tables roll back), unpublished and unread.
        using var files = TestFiles.BundledSample();
        var (database, before, _) = await InterruptStreamingRunAsync(Backend.Postgres, files.Directory, server => server.KillAsync(), "full");
        Assert.Equal(2L, await GenerationCountAsync(database));

        await using var restarted = await ServerProcess.StartAsync(Environment(database, files.Directory, "full"));
        Assert.Equal(before, await ReportAsync(restarted.Client));
        Assert.Equal(HttpStatusCode.OK, (await restarted.Client.GetAsync("/csv")).StatusCode);

        Assert.Equal(1L, await GenerationCountAsync(database));
    }

    static async Task<long> GenerationCountAsync(string database) =>
        (await Sql.QueryAsync(database, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'etl\\_gen\\_%'", r => r.GetInt64(0))).Single();

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task The_run_of_a_killed_replica_is_marked_failed_by_a_surviving_replica_within_seconds(Backend backend)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        await using var survivor = await ServerProcess.StartAsync(Environment(database, TestPostgres.RepositoryRoot() + "/data"));
        using var files = TestFiles.BundledSample();
        var (runId, _) = await KillDuringStreamingRunAsync(database, files.Directory);

        // The survivor started before the run and is never restarted: it notices on its own.
        var run = await WaitForStatusAsync(survivor.Client, runId, status => status is not ("queued" or "running"), seconds: 15);
        Assert.Equal("failed", run.GetProperty("status").GetString());
        Assert.Equal(HttpStatusCode.OK, (await survivor.Client.PostAsync("/api/etl/runs?wait=true", null)).StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task Deleting_the_run_of_a_killed_replica_ends_it_at_once(Backend backend)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        await using var survivor = await ServerProcess.StartAsync(Environment(database, TestPostgres.RepositoryRoot() + "/data"));
        using var files = TestFiles.BundledSample();
        var (runId, _) = await KillDuringStreamingRunAsync(database, files.Directory);
        await WaitForNoLoadLockAsync(database);

        var deleted = await survivor.Client.DeleteAsync($"/api/etl/runs/{runId}");

        // The survivor's sweep (every 2 s, once a run has been quiet for 2 s) may end it first, more often on Citus,
        // where the dead client's lock goes later: then the run has already failed and the answer is 409. Either way
        // the run has ended, and never as "running" (a 202, to be ended later).
        Assert.True(deleted.StatusCode is HttpStatusCode.OK or HttpStatusCode.Conflict, $"DELETE answered {deleted.StatusCode}");
        var run = await (await survivor.Client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
        Assert.Equal("failed", run.GetProperty("status").GetString());
    }

    /// <summary>Starts a run on a server of its own whose experiments file never ends, and kills that server mid-run.</summary>
    static async Task<(string RunId, ServerProcess Killed)> KillDuringStreamingRunAsync(string database, string dataDirectory)
    {
        File.Delete(Path.Combine(dataDirectory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(dataDirectory, "user_experiments.csv"));
        await using var doomed = await ServerProcess.StartAsync(Environment(database, dataDirectory));
        using var stop = new CancellationTokenSource();
        var runId = (await (await doomed.Client.PostAsync("/api/etl/runs", null)).ReadJsonAsync()).GetProperty("run_id").GetString()!;
        await experiments.WaitForReaderAsync();
        var writer = experiments.StreamAsync(ExperimentsHeader, Experiment, stop.Token);
        await WaitForRowsReadAsync(doomed.Client, runId, 20_000);
        await doomed.KillAsync();
        await stop.CancelAsync();
        await writer;
        return (runId, doomed);
    }

    [Theory]
    [InlineData("full")]
    [InlineData("changes")]
    public async Task Sigterm_after_the_files_are_read_still_cancels_and_rolls_the_run_back(string apply)
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var server = await ServerProcess.StartAsync(Environment(database, files.Directory, apply));
        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/csv")).StatusCode);
        var before = await ReportAsync(server.Client);
        files.Write("users.csv", File.ReadAllText(Path.Combine(files.Directory, "users.csv")).Replace("Alice", "Alicia", StringComparison.Ordinal));

        // Hold the run between reading its files and its commit: a full load at its publish, a change-only reload once
        // it has changed the rows in place, at its change's first look at the history.
        await using var held = apply == "full" ? await HeldPublish.HoldAsync(database) : await HeldPublish.HoldChangeAsync(database);
        var runId = (await (await server.Client.PostAsync("/api/etl/runs", null)).ReadJsonAsync()).GetProperty("run_id").GetString()!;
        await held.WaitForLoadAsync();

        var exit = await server.TerminateAsync(TimeSpan.FromSeconds(10));
        await held.ReleaseAsync(); // Before the fix, the commit went on from here.
        Assert.True(exit < TimeSpan.FromSeconds(10), $"exit took {exit}");

        await using var restarted = await ServerProcess.StartAsync(Environment(database, files.Directory, apply));
        var run = await (await restarted.Client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
        Assert.Equal("cancelled", run.GetProperty("status").GetString());
        Assert.Equal(before, await ReportAsync(restarted.Client));
        // The next reload is as the interrupted one would have been.
        var next = await (await restarted.Client.PostAsync("/api/etl/runs?wait=true", null)).ReadJsonAsync();
        Assert.Equal(apply, next.GetProperty("apply").GetString());
        Assert.Contains("Alicia", await ReportAsync(restarted.Client), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("kill -9")]
    [InlineData("SIGTERM")]
    public async Task A_server_stopped_while_computing_its_change_leaves_the_data_set_and_history_intact(string stop)
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var server = await ServerProcess.StartAsync(Environment(database, files.Directory));
        var first = await server.Client.PostAsync("/api/etl/runs?wait=true", null);
        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        var firstRun = (await first.ReadJsonAsync()).GetProperty("run_id").GetString();
        var before = await ReportAsync(server.Client);
        var users = Path.Combine(files.Directory, "users.csv");
        File.WriteAllText(users, File.ReadAllText(users).Replace("Alice", "Alicia", StringComparison.Ordinal));

        await using var held = await HeldPublish.HoldChangeAsync(database);
        var runId = (await (await server.Client.PostAsync("/api/etl/runs", null)).ReadJsonAsync()).GetProperty("run_id").GetString()!;
        await held.WaitForLoadAsync();
        if (stop == "SIGTERM")
        {
            var exit = await server.TerminateAsync(TimeSpan.FromSeconds(10));
            await held.ReleaseAsync();
            Assert.True(exit < TimeSpan.FromSeconds(10), $"exit took {exit}");
        }
        else
        {
            await server.KillAsync();
            await held.ReleaseAsync();
        }

        await using var restarted = await ServerProcess.StartAsync(Environment(database, files.Directory));
        var run = await WaitForStatusAsync(restarted.Client, runId, status => status is not ("queued" or "running"), seconds: 15);
        Assert.Equal(stop == "SIGTERM" ? "cancelled" : "failed", run.GetProperty("status").GetString());
        Assert.Equal(before, await ReportAsync(restarted.Client));
        var history = (await (await restarted.Client.GetAsync("/api/history")).ReadJsonAsync()).GetProperty("loads");
        Assert.Equal([firstRun], history.EnumerateArray().Select(l => l.GetProperty("run_id").GetString()));

        // The next load compares with the last one that succeeded.
        var next = await restarted.Client.PostAsync("/api/etl/runs?wait=true", null);
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        var change = await (await restarted.Client.GetAsync($"/api/etl/runs/{(await next.ReadJsonAsync()).GetProperty("run_id").GetString()}/changes")).ReadJsonAsync();
        Assert.Equal(firstRun, change.GetProperty("previous_run_id").GetString());
        Assert.Equal(1, change.GetProperty("users").GetProperty("changed").GetInt64());
    }

    [Theory]
    [MemberData(nameof(DurableAndApply))]
    public async Task Sigterm_during_a_run_cancels_and_rolls_it_back_and_the_process_exits_within_10_seconds(Backend backend, string apply)
    {
        using var files = TestFiles.BundledSample();
        var (database, before, runId) = await InterruptStreamingRunAsync(backend, files.Directory, async server =>
        {
            var exit = await server.TerminateAsync(TimeSpan.FromSeconds(10));
            Assert.True(exit < TimeSpan.FromSeconds(10), $"exit took {exit}");
            Assert.Equal(0, server.ExitCode);
        }, apply);

        await using var restarted = await ServerProcess.StartAsync(Environment(database, files.Directory, apply));
        var run = await (await restarted.Client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync();
        Assert.Equal("cancelled", run.GetProperty("status").GetString());
        Assert.Equal(before, await ReportAsync(restarted.Client));
    }

    /// <summary>
    /// Loads the sample into a fresh database, then starts a run on a second server whose experiments file never ends,
    /// and <paramref name="interrupt"/>s that server once the run is well under way.
    /// </summary>
    /// <returns>The database, the report before the interrupted run, and that run's id.</returns>
    /// <param name="apply">How the interrupted run applies its data set (<see cref="Environment"/>): a change-only
    /// reload reads the never-ending file and stages what it finds new.</param>
    static async Task<(string Database, string Before, string RunId)> InterruptStreamingRunAsync(
        Backend backend, string dataDirectory, Func<ServerProcess, Task> interrupt, string apply)
    {
        var database = backend is Backend.Postgres or Backend.Citus
            ? await EtlAppFactory.CreateServerDatabaseAsync(backend)
            : Path.Combine(dataDirectory, "experiments.db"); // Deleted with the data folder.
        string before;
        await using (var initial = await ServerProcess.StartAsync(Environment(database, dataDirectory, apply)))
        {
            Assert.Equal(HttpStatusCode.OK, (await initial.Client.GetAsync("/csv")).StatusCode);
            before = await ReportAsync(initial.Client);
        }

        using var streaming = TestFiles.BundledSample();
        File.Delete(Path.Combine(streaming.Directory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(streaming.Directory, "user_experiments.csv"));
        await using var server = await ServerProcess.StartAsync(Environment(database, streaming.Directory, apply));
        using var stop = new CancellationTokenSource();
        var runId = (await (await server.Client.PostAsync("/api/etl/runs", null)).ReadJsonAsync()).GetProperty("run_id").GetString()!;
        await experiments.WaitForReaderAsync();
        var writer = experiments.StreamAsync(ExperimentsHeader, Experiment, stop.Token);
        await WaitForRowsReadAsync(server.Client, runId, 20_000);

        await interrupt(server);
        await stop.CancelAsync();
        await writer;
        return (database, before, runId);
    }

    [Theory]
    [InlineData("full")]
    [InlineData("changes")]
    public async Task The_database_going_away_fails_the_run_cleanly_and_the_service_recovers_without_a_restart(string apply)
    {
        var cluster = Directory.CreateTempSubdirectory("etl-test-own-pg-").FullName;
        var script = Path.Combine(TestPostgres.RepositoryRoot(), "scripts", "pg-cluster.sh");
        var url = (await Shell.RunAsync("bash", script, "start", cluster)).Trim();
        try
        {
            using var files = TestFiles.BundledSample();
            await using var server = await ServerProcess.StartAsync(Environment(url, files.Directory, apply));
            if (apply == "changes")
            {
                // A data set for the run to compare with: it stops while it stages what it finds new.
                Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/csv")).StatusCode);
            }
            File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
            await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
            using var stop = new CancellationTokenSource();
            var runId = (await (await server.Client.PostAsync("/api/etl/runs", null)).ReadJsonAsync()).GetProperty("run_id").GetString()!;
            await experiments.WaitForReaderAsync();
            var writer = experiments.StreamAsync(ExperimentsHeader, Experiment, stop.Token);
            await WaitForRowsReadAsync(server.Client, runId, 20_000);

            await Shell.RunAsync("bash", script, "stop", cluster);

            var run = await WaitForStatusAsync(server.Client, runId, status => status is not ("queued" or "running"));
            Assert.Equal("failed", run.GetProperty("status").GetString());
            Assert.Contains("database", run.GetProperty("message").GetString(), StringComparison.OrdinalIgnoreCase);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.Client.GetAsync("/readyz")).StatusCode);
            await stop.CancelAsync();
            await writer;

            await Shell.RunAsync("bash", script, "resume", cluster);
            await WaitUntilAsync(async () => (await server.Client.GetAsync("/readyz")).StatusCode == HttpStatusCode.OK);
            files.Write("user_experiments.csv", File.ReadAllText(Path.Combine(TestPostgres.RepositoryRoot(), "data", "user_experiments.csv")));
            var next = await server.Client.PostAsync("/api/etl/runs?wait=true", null);
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            Assert.Equal(apply, (await next.ReadJsonAsync()).GetProperty("apply").GetString());
            // The failed run's record reached the database once it was back.
            var listed = (await (await server.Client.GetAsync("/api/etl/runs")).ReadJsonAsync()).GetProperty("runs").EnumerateArray()
                .Select(r => (r.GetProperty("run_id").GetString(), r.GetProperty("status").GetString())).ToList();
            Assert.Contains((runId, "failed"), listed);
        }
        finally
        {
            await Shell.RunAsync("bash", script, "stop", cluster);
            Directory.Delete(cluster, recursive: true);
        }
    }

    [Fact]
    public async Task The_default_database_of_a_killed_server_is_deleted_when_the_next_server_starts()
    {
        var temp = Directory.CreateTempSubdirectory("etl-test-tmpdir-").FullName;
        try
        {
            var environment = new Dictionary<string, string>
            {
                ["TMPDIR"] = temp,
                ["ETL_DATA_DIR"] = Path.Combine(TestPostgres.RepositoryRoot(), "data"),
                ["Logging__LogLevel__Default"] = "Warning",
            };
            await using (var killed = await ServerProcess.StartAsync(environment))
            {
                Assert.Equal(HttpStatusCode.OK, (await killed.Client.GetAsync("/csv")).StatusCode);
                Assert.Single(Directory.GetDirectories(temp, "experiment-etl-db-*"));
                await killed.KillAsync();
            }
            var left = Directory.GetDirectories(temp, "experiment-etl-db-*").Single();

            await using var next = await ServerProcess.StartAsync(environment);

            Assert.False(Directory.Exists(left), "the killed server's database is still there");
            Assert.Single(Directory.GetDirectories(temp, "experiment-etl-db-*")); // The new server's own.
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
        }
    }

    [Fact]
    public async Task Pairs_spilled_by_a_killed_server_are_deleted_when_the_next_one_starts()
    {
        // The temporary folder of both processes, a 1 MB budget and 600,000 distinct (user, compound) pairs streamed.
        var temp = Directory.CreateTempSubdirectory("etl-test-tmp-").FullName;
        using var files = new TestFiles(
            "user_id,name,email,signup_date\n" + string.Join("\n", Enumerable.Range(1, 2000).Select(u => $"{u},U{u},u{u}@x,2024-01-01")),
            "compound_id,compound_name,compound_structure\n" + string.Join("\n", Enumerable.Range(1, 300).Select(c => $"{c},C{c},S{c}")),
            null);
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = Path.Combine(temp, "etl.db"),
            ["ETL_DATA_DIR"] = files.Directory,
            ["TMPDIR"] = temp,
            ["ETL_MEMORY_LIMIT_MB"] = "1",
            ["Logging__LogLevel__Default"] = "Warning",
        };
        IEnumerable<string> SpillFolders() => Directory.EnumerateDirectories(temp, "etl-spill-*");
        await using (var doomed = await ServerProcess.StartAsync(environment))
        {
            using var stop = new CancellationTokenSource();
            Assert.Equal(HttpStatusCode.Accepted, (await doomed.Client.PostAsync("/api/etl/runs", null)).StatusCode);
            await experiments.WaitForReaderAsync();
            var writer = experiments.StreamAsync(ExperimentsHeader, id => $"{id},\t{1 + id % 2000},\t{1 + id / 2000 % 300},\t5", stop.Token);
            await WaitUntilAsync(() => Task.FromResult(SpillFolders().Any(f => Directory.EnumerateFiles(f, "*.run").Any())));

            await doomed.KillAsync();
            await stop.CancelAsync();
            await writer;
        }
        Assert.Single(SpillFolders());

        await using (var restarted = await ServerProcess.StartAsync(environment))
        {
            Assert.Empty(SpillFolders());
        }
        Directory.Delete(temp, recursive: true);
    }

    static async Task WaitUntilAsync(Func<Task<bool>> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "condition not met within 30 s");
            await Task.Delay(200);
        }
    }

    /// <summary>PostgreSQL notices a killed client's connection a moment later; until then its locks stand.</summary>
    static async Task WaitForNoLoadLockAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await WaitUntilAsync(async () =>
        {
            await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'", connection);
            return (long)(await command.ExecuteScalarAsync())! == 0;
        });
    }
}
