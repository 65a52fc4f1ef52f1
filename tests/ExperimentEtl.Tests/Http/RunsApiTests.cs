using System.Net;
using System.Text;
using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>The runs API: start, follow, list, upload, lenient mode and rejects, cancel, 409, API key.</summary>
public sealed class RunsApiTests
{
    const string Runs = "/api/etl/runs";

    static MultipartFormDataContent Upload(string? users = TestFiles.SeedUsers, string? experiments = TestFiles.SeedExperiments, string? compounds = TestFiles.SeedCompounds)
    {
        var form = new MultipartFormDataContent();
        void Add(string name, string? content)
        {
            if (content is not null)
            {
                form.Add(new StringContent(content, Encoding.UTF8, "text/csv"), name, $"export-{name}.csv");
            }
        }
        Add("users", users);
        Add("user_experiments", experiments);
        Add("compounds", compounds);
        return form;
    }

    static async Task<JsonElement> WaitForEndAsync(HttpClient client, string location)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var run = await (await client.GetAsync(location)).ReadJsonAsync();
            if (run.GetProperty("status").GetString() is not ("queued" or "running"))
            {
                return run;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run did not end within 30 s");
            await Task.Delay(50);
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_started_run_answers_202_with_its_location_and_is_followed_to_success(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        var response = await client.PostAsync(Runs, null);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var started = await response.ReadJsonAsync();
        var id = started.GetProperty("run_id").GetString();
        Assert.Equal($"{Runs}/{id}", response.Headers.Location?.ToString());
        Assert.Contains(started.GetProperty("status").GetString(), new[] { "queued", "running", "succeeded" });

        var run = await WaitForEndAsync(client, response.Headers.Location!.ToString());
        Assert.Equal("succeeded", run.GetProperty("status").GetString());
        Assert.Equal("strict", run.GetProperty("mode").GetString());
        Assert.Equal("data_folder", run.GetProperty("source").GetString());
        Assert.Equal(1.0, run.GetProperty("progress").GetDouble());
        var usersFile = run.GetProperty("files")[0];
        Assert.Equal(("users.csv", 10, 10, 0), (usersFile.GetProperty("file").GetString(), usersFile.GetProperty("rows_read").GetInt32(),
            usersFile.GetProperty("rows_loaded").GetInt32(), usersFile.GetProperty("rows_rejected").GetInt32()));
        Assert.Equal(usersFile.GetProperty("bytes_total").GetInt64(), usersFile.GetProperty("bytes_read").GetInt64());
        Assert.True(run.GetProperty("duration_seconds").GetDouble() >= 0);
        var provider = backend switch { Backend.Citus => "citus", Backend.Postgres => "postgresql", _ => "sqlite" };
        Assert.Equal(provider, started.GetProperty("provider").GetString());
        Assert.Equal(provider, run.GetProperty("provider").GetString());
        var listed = (await client.GetAsync(Runs)).ReadJsonAsync();
        Assert.Equal(provider, (await listed).GetProperty("runs")[0].GetProperty("provider").GetString());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Runs_are_listed_newest_first_in_pages(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        var ids = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            var run = await (await client.PostAsync($"{Runs}?wait=true", null)).ReadJsonAsync();
            ids.Add(run.GetProperty("run_id").GetString()!);
        }

        var first = await (await client.GetAsync($"{Runs}?limit=2")).ReadJsonAsync();
        var next = first.GetProperty("next").GetString();
        Assert.NotNull(next);
        var second = await (await client.GetAsync(next)).ReadJsonAsync();

        var listed = first.GetProperty("runs").EnumerateArray().Concat(second.GetProperty("runs").EnumerateArray())
            .Select(r => r.GetProperty("run_id").GetString()).ToList();
        Assert.Equal(Enumerable.Reverse(ids), listed);
        Assert.Equal(JsonValueKind.Null, second.GetProperty("next").ValueKind);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Uploaded_files_are_loaded_and_removed_afterwards(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        var uploads = Directory.CreateTempSubdirectory("etl-test-uploads-").FullName;
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory, new Dictionary<string, string> { ["ETL_UPLOAD_DIR"] = uploads });
        var client = app.CreateClient();

        var response = await client.PostAsync($"{Runs}?wait=true", Upload());

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var run = await response.ReadJsonAsync();
        Assert.Equal("upload", run.GetProperty("source").GetString());
        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        Assert.Equal(1.5, report.GetProperty("average_experiment_count").GetDouble(), 10);
        Assert.Equal(2, report.GetProperty("user_reports").GetArrayLength());
        Assert.Empty(Directory.EnumerateFileSystemEntries(uploads));

        // Also after an invalid upload.
        var invalid = await client.PostAsync($"{Runs}?wait=true", Upload(experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,7,1,5"));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(uploads));
        Directory.Delete(uploads);
    }

    [Fact]
    public async Task Uploads_left_by_a_killed_process_are_deleted_at_start_up_however_recent_but_not_one_in_use()
    {
        using var files = TestFiles.BundledSample();
        var uploads = Directory.CreateTempSubdirectory("etl-test-uploads-").FullName;
        // A process killed a moment ago (a supervisor restarts at once): its lock file is there, nobody holds it.
        var abandoned = Path.Combine(uploads, "experiment-etl-upload-0123456789abcdef0123456789abcdef");
        Directory.CreateDirectory(abandoned);
        File.WriteAllText(Path.Combine(abandoned, ".in-use"), "");
        File.WriteAllText(Path.Combine(abandoned, "users.csv"), "user_id,name,email,signup_date\n1,A,a@x,2024-01-01");
        // Written by a version before the lock, long ago.
        var old = Directory.CreateDirectory(Path.Combine(uploads, "experiment-etl-upload-fedcba9876543210fedcba9876543210")).FullName;
        Directory.SetLastWriteTimeUtc(old, DateTime.UtcNow.AddHours(-2));
        // Another process's run, still going: its folder is locked, however old.
        using var inUse = ExperimentEtl.Pipeline.DataSetSource.CreateUploadDirectory(uploads);
        Directory.SetLastWriteTimeUtc(inUse.FolderPath, DateTime.UtcNow.AddHours(-2));
        var unrelated = Directory.CreateDirectory(Path.Combine(uploads, "someone-else")).FullName;

        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory, new Dictionary<string, string> { ["ETL_UPLOAD_DIR"] = uploads });
        Assert.Equal(HttpStatusCode.OK, (await app.CreateClient().GetAsync("/healthz")).StatusCode);

        Assert.Equal([inUse.FolderPath, unrelated], Directory.EnumerateDirectories(uploads).Order());
        inUse.Dispose();
        Directory.Delete(uploads, recursive: true);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_starts_at_once_give_one_run_and_a_conflict_that_names_it(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        var answers = await Task.WhenAll(client.PostAsync(Runs, null), client.PostAsync(Runs, null));

        Assert.Equal([HttpStatusCode.Accepted, HttpStatusCode.Conflict], answers.Select(a => a.StatusCode).Order());
        var runId = (await answers.Single(a => a.StatusCode == HttpStatusCode.Accepted).ReadJsonAsync()).GetProperty("run_id").GetString();
        var conflict = await answers.Single(a => a.StatusCode == HttpStatusCode.Conflict).ReadJsonAsync();
        Assert.Equal(runId, conflict.GetProperty("running_run_id").GetString());
        await experiments.WaitForReaderAsync();
        await experiments.CloseAsync();
    }

    /// <summary>A connection to a SQLite file with a read transaction open on its current snapshot.</summary>
    static async Task<(Microsoft.Data.Sqlite.SqliteConnection Reader, Microsoft.Data.Sqlite.SqliteTransaction Snapshot)> HoldSnapshotAsync(string? file)
    {
        var reader = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False");
        await reader.OpenAsync();
        var snapshot = reader.BeginTransaction(deferred: true);
        using var read = reader.CreateCommand();
        read.CommandText = "SELECT count(*) FROM sqlite_master";
        read.Transaction = snapshot;
        await read.ExecuteScalarAsync();
        return (reader, snapshot);
    }

    /// <remarks>
    /// A reader on an old snapshot of the file, as a slow request would be, makes the load's cleanup after its commit (the
    /// write-ahead log's checkpoint) wait a second or two, holding the run's gate meanwhile. The run's record (in this
    /// process) says it ended only once the gate is free; the history (read from the database, committed with the data
    /// set) says so at the commit, and a start then waits for the cleanup rather than refuse.
    /// </remarks>
    [Theory]
    [InlineData("the run's record")]
    [InlineData("the history")]
    public async Task A_start_right_after_a_load_reads_as_ended_is_accepted_though_its_cleanup_takes_time(string seenIn)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.SqliteFile, files.Directory);
        var client = app.CreateClient();
        var (reader, snapshot) = await HoldSnapshotAsync(app.DatabaseUrl);
        using var closeReader = reader;
        using var endSnapshot = snapshot;

        var first = await client.PostAsync(Runs, null);
        Assert.Equal(HttpStatusCode.Accepted, first.StatusCode);
        var firstRun = (await first.ReadJsonAsync()).GetProperty("run_id").GetString();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (!await EndedAsync())
        {
            Assert.True(DateTime.UtcNow < deadline, $"{seenIn} did not show the run's end within 30 s");
            await Task.Delay(20);
        }
        var next = await client.PostAsync(Runs, null);

        Assert.Equal(HttpStatusCode.Accepted, next.StatusCode);
        snapshot.Rollback();
        Assert.Equal("succeeded", (await WaitForEndAsync(client, next.Headers.Location!.ToString())).GetProperty("status").GetString());

        async Task<bool> EndedAsync()
        {
            if (seenIn == "the history")
            {
                var loads = (await (await client.GetAsync("/api/history?limit=1")).ReadJsonAsync()).GetProperty("loads");
                return loads.GetArrayLength() > 0 && loads[0].GetProperty("run_id").GetString() == firstRun;
            }
            var status = (await (await client.GetAsync(first.Headers.Location)).ReadJsonAsync()).GetProperty("status").GetString();
            Assert.False(status is "failed" or "cancelled", $"the first run {status}");
            return status is not ("queued" or "running");
        }
    }

    [Fact]
    public async Task Wrong_uploads_are_answered_with_the_reason()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory,
            new Dictionary<string, string> { ["ETL_MAX_UPLOAD_BYTES"] = "1000" });
        var client = app.CreateClient();

        var missing = await client.PostAsync(Runs, Upload(compounds: null));
        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Contains("compounds", (await missing.ReadJsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);

        var json = await client.PostAsync(Runs, new StringContent("{}", Encoding.UTF8, "application/json"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, json.StatusCode);
        Assert.Equal("application/problem+json", json.Content.Headers.ContentType?.MediaType);

        var large = await client.PostAsync(Runs, Upload(users: TestFiles.SeedUsers + new string(' ', 2000)));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, large.StatusCode);

        var mode = await client.PostAsync($"{Runs}?mode=sloppy", null);
        Assert.Equal(HttpStatusCode.BadRequest, mode.StatusCode);

        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Runs}/{Guid.NewGuid()}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"{Runs}/{Guid.NewGuid()}")).StatusCode);

        // Nothing ran.
        Assert.Empty((await (await client.GetAsync(Runs)).ReadJsonAsync()).GetProperty("runs").EnumerateArray());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_lenient_run_loads_the_valid_rows_and_records_each_rejected_one(Backend backend)
    {
        using var files = new TestFiles(
            users: "user_id,name,email,signup_date\n1,Alice,a@x,2023-01-01\n2,Bob,b@x,2023-02-30\n3,Carol,c@x,2023-03-01\n3,Dup,d@x,2023-03-02",
            compounds: "compound_id,compound_name,compound_structure\n1,A,C1\n2,B,C2\nx,C,C3",
            experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n" +
                         "1,1,1;2,10\n2,2,1,10\n3,3,2;9,10\n4,3,2,ten\n5,3,2,7\n6,1,2,extra,field");
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        var response = await client.PostAsync($"{Runs}?mode=lenient&wait=true", null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var run = await response.ReadJsonAsync();
        Assert.Equal(("succeeded", "lenient", 7L), (run.GetProperty("status").GetString(), run.GetProperty("mode").GetString(), run.GetProperty("rejected_count").GetInt64()));
        var counts = run.GetProperty("files").EnumerateArray()
            .Select(f => (f.GetProperty("file").GetString(), f.GetProperty("rows_read").GetInt64(), f.GetProperty("rows_loaded").GetInt64(), f.GetProperty("rows_rejected").GetInt64()))
            .ToList();
        Assert.Equal([("users.csv", 4L, 2L, 2L), ("compounds.csv", 3L, 2L, 1L), ("user_experiments.csv", 6L, 2L, 4L)], counts);

        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        Assert.Equal(["Alice", "Carol"], report.GetProperty("user_reports").EnumerateArray().Select(u => u.GetProperty("name").GetString()));
        Assert.Equal(1.0, report.GetProperty("average_experiment_count").GetDouble(), 10);

        var rejects = (await (await client.GetAsync($"{Runs}/{run.GetProperty("run_id").GetString()}/rejects")).ReadJsonAsync())
            .GetProperty("rejects").EnumerateArray().ToList();
        Assert.Equal(7, rejects.Count);
        var bob = rejects[0];
        Assert.Equal(("users.csv", 3L, "2,Bob,b@x,2023-02-30"), (bob.GetProperty("file").GetString(), bob.GetProperty("line").GetInt64(), bob.GetProperty("raw").GetString()));
        Assert.Contains("signup_date", bob.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains("appears more than once", rejects[1].GetProperty("reason").GetString(), StringComparison.Ordinal);
        var bobsExperiment = rejects.Single(r => r.GetProperty("raw").GetString() == "2,2,1,10");
        Assert.Contains("line 3 of users.csv", bobsExperiment.GetProperty("reason").GetString(), StringComparison.Ordinal);
        var unknownCompound = rejects.Single(r => r.GetProperty("raw").GetString() == "3,3,2;9,10");
        Assert.Contains("compound id 9", unknownCompound.GetProperty("reason").GetString(), StringComparison.Ordinal);
        Assert.Contains(rejects, r => r.GetProperty("raw").GetString() == "6,1,2,extra,field" && r.GetProperty("reason").GetString()!.Contains("expected 4 fields", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_strict_run_with_wait_answers_422_and_its_record_keeps_the_errors(Backend backend)
    {
        using var files = new TestFiles(experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1,soon");
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        var response = await client.PostAsync($"{Runs}?wait=true", null);

        Assert.Equal(HttpStatusCode.UnprocessableEntity, response.StatusCode);
        var runId = (await response.ReadJsonAsync()).GetProperty("run_id").GetString();
        var run = await (await client.GetAsync($"{Runs}/{runId}")).ReadJsonAsync();
        Assert.Equal(("failed", 1L), (run.GetProperty("status").GetString(), run.GetProperty("error_count").GetInt64()));
        var error = run.GetProperty("errors")[0];
        Assert.Equal(("user_experiments.csv", 2, "experiment_run_time", "soon"), (error.GetProperty("file").GetString(),
            error.GetProperty("line").GetInt32(), error.GetProperty("column").GetString(), error.GetProperty("value").GetString()));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_second_start_answers_409_naming_the_running_run_and_delete_cancels_it(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"{Runs}?wait=true", null)).StatusCode);
        var before = await (await client.GetAsync("/report")).Content.ReadAsStringAsync();

        File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        var started = await (await client.PostAsync(Runs, null)).ReadJsonAsync();
        var runId = started.GetProperty("run_id").GetString();
        await experiments.WaitForReaderAsync();
        await experiments.WriteAsync("experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1,\t10\n");

        var conflict = await client.PostAsync(Runs, null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal(runId, (await conflict.ReadJsonAsync()).GetProperty("running_run_id").GetString());
        var running = await (await client.GetAsync($"{Runs}/{runId}")).ReadJsonAsync();
        Assert.Equal("running", running.GetProperty("status").GetString());

        // Rows keep coming, as from a large file, until the run notices the cancellation.
        using var stop = new CancellationTokenSource();
        var streaming = experiments.StreamAsync("", id => $"{id + 1},\t1,\t1,\t10", stop.Token);
        var cancelled = await client.DeleteAsync($"{Runs}/{runId}");
        await stop.CancelAsync();
        await streaming;
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("cancelled", (await cancelled.ReadJsonAsync()).GetProperty("status").GetString());
        Assert.Equal("cancelled", (await (await client.GetAsync($"{Runs}/{runId}")).ReadJsonAsync()).GetProperty("status").GetString());

        var after = await (await client.GetAsync("/report")).Content.ReadAsStringAsync();
        Assert.Equal(before, after);
        Assert.Equal(HttpStatusCode.Conflict, (await client.DeleteAsync($"{Runs}/{runId}")).StatusCode);
    }

    [Fact]
    public async Task With_an_api_key_only_the_endpoints_that_change_data_require_it()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory,
            new Dictionary<string, string> { ["API_KEY"] = "test-key-1234" });
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.Unauthorized, (await client.PostAsync(Runs, null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/csv")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.GetAsync("/setup_test_db")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await client.DeleteAsync($"{Runs}/{Guid.NewGuid()}")).StatusCode);
        using (var wrong = new HttpRequestMessage(HttpMethod.Post, Runs))
        {
            wrong.Headers.Add("X-Api-Key", "test-key-1235");
            var response = await client.SendAsync(wrong);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
            Assert.DoesNotContain("test-key", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(Runs)).StatusCode);

        client.DefaultRequestHeaders.Add("X-Api-Key", "test-key-1234");
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"{Runs}?wait=true", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
    }
}
