using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ExperimentEtl.Tests.Http;

/// <summary>The read API, the CSV report and the API documentation.</summary>
public sealed class ReadApiTests
{
    // Ann ties compounds 1 and 2 (one experiment each) and repeats 2 inside one experiment; Ben has none; Cy has one.
    static TestFiles TieData() => new(
        users: "user_id,name,email,signup_date\n1,Ann,ann@x,2024-01-02\n2,Ben,ben@x,2024-01-03\n3,Cy,cy@x,2024-01-04",
        compounds: "compound_id,compound_name,compound_structure\n1,Alpha,C1\n2,Beta,C2\n3,Gamma,C3",
        experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,2;2,5\n2,1,1,5\n3,3,2;3,5");

    [Fact]
    public async Task Reads_past_the_concurrency_wait_their_turn_past_the_queue_answer_503_and_probes_still_answer()
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(Backend.Postgres);
        using var files = TieData();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory,
            new Dictionary<string, string> { ["ETL_READ_CONCURRENCY"] = "1" });
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        // Every page waits while this transaction holds the users table (of the published generation).
        await using var holder = new Npgsql.NpgsqlConnection(database);
        await holder.OpenAsync();
        var hold = await holder.BeginTransactionAsync();
        await using (var lockUsers = new Npgsql.NpgsqlCommand(
            "SELECT set_config('search_path', 'etl_gen_' || generation, true) FROM data_generation; LOCK TABLE users IN ACCESS EXCLUSIVE MODE", holder, hold))
        {
            await lockUsers.ExecuteNonQueryAsync();
        }
        // The limiter's own count of waiting reads says when the queue is full, whatever the machine's speed.
        var meters = app.Services.GetRequiredService<System.Diagnostics.Metrics.IMeterFactory>();
        long queued = 0;
        using var listener = new System.Diagnostics.Metrics.MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Scope == meters && instrument.Name == "aspnetcore.rate_limiting.queued_requests")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, change, _, _) => Interlocked.Add(ref queued, change));
        listener.Start();

        // One read runs (and waits for the table), ReadLimit.WaitingPerReader wait their turn; the next is refused at once.
        var held = Enumerable.Range(0, 1 + ExperimentEtl.Endpoints.ReadLimit.WaitingPerReader)
            .Select(_ => client.GetAsync("/api/users?limit=2")).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (Interlocked.Read(ref queued) < ExperimentEtl.Endpoints.ReadLimit.WaitingPerReader)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{Interlocked.Read(ref queued)} reads waiting after 30 s");
            await Task.Delay(50);
        }
        var refusal = client.GetAsync("/api/users?limit=2");
        Assert.Same(refusal, await Task.WhenAny(refusal, Task.Delay(TimeSpan.FromSeconds(30))));
        var refused = await refusal;

        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal("1", refused.Headers.RetryAfter?.ToString());
        var problem = await refused.ReadJsonAsync();
        Assert.Equal("https://experiment-etl.dev/problems/overloaded", problem.GetProperty("type").GetString());
        // The waiting reads hold no database connection: one statement waits for the table (once it has got there).
        await using (var waiting = new Npgsql.NpgsqlCommand(
            "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'users'::regclass", holder, hold))
        {
            long statements;
            while ((statements = (long)(await waiting.ExecuteScalarAsync())!) == 0 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
            Assert.Equal(1L, statements);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);

        await hold.RollbackAsync();
        foreach (var response in await Task.WhenAll(held))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task Pages_on_pooled_connections_show_each_data_set_across_reloads(Backend backend)
    {
        // Pooled, as the service runs (the tests' databases are not): a page's statement stays prepared on its
        // connection while a reload swaps the tables it reads (PostgreSQL) or publishes a new generation (Citus).
        var pooled = new Npgsql.NpgsqlConnectionStringBuilder(await EtlAppFactory.CreateServerDatabaseAsync(backend))
        {
            Pooling = true,
            MaxPoolSize = 3,
        }.ConnectionString;
        using var files = TieData();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(pooled, files.Directory);
        var client = app.CreateClient();

        foreach (var name in new[] { "Ann", "Anne", "Annie" })
        {
            files.Write("users.csv", $"user_id,name,email,signup_date\n1,{name},ann@x,2024-01-02\n2,Ben,ben@x,2024-01-03\n3,Cy,cy@x,2024-01-04");
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
            // More requests than connections, and past the five after which PostgreSQL keeps one plan.
            for (var request = 0; request < 8; request++)
            {
                var page = await (await client.GetAsync("/api/users?limit=2")).ReadJsonAsync();
                Assert.Equal(name, page.GetProperty("users")[0].GetProperty("name").GetString());
                var user = await (await client.GetAsync("/api/users/1")).ReadJsonAsync();
                Assert.Equal((name, 2), (user.GetProperty("name").GetString(), user.GetProperty("total_experiments").GetInt32()));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Users_page_by_id_with_their_favourite_and_every_tie(Backend backend)
    {
        using var files = TieData();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        var first = await (await client.GetAsync("/api/users?limit=2")).ReadJsonAsync();
        var users = first.GetProperty("users").EnumerateArray().ToList();
        Assert.Equal([1, 2], users.Select(u => u.GetProperty("user_id").GetInt32()));
        var ann = users[0];
        Assert.Equal(("2024-01-02", 2), (ann.GetProperty("signup_date").GetString(), ann.GetProperty("total_experiments").GetInt32()));
        Assert.Equal(("Alpha", 1L), (ann.GetProperty("favorite_compound").GetProperty("name").GetString(), ann.GetProperty("favorite_compound").GetProperty("experiments").GetInt64()));
        Assert.Equal([1, 2], ann.GetProperty("tied_favorites").EnumerateArray().Select(c => c.GetProperty("compound_id").GetInt32()));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, users[1].GetProperty("favorite_compound").ValueKind);
        Assert.Empty(users[1].GetProperty("tied_favorites").EnumerateArray());

        var second = await (await client.GetAsync(first.GetProperty("next").GetString())).ReadJsonAsync();
        Assert.Equal([3], second.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user_id").GetInt32()));

        var search = await (await client.GetAsync("/api/users?q=BE")).ReadJsonAsync();
        Assert.Equal(["Ben"], search.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("name").GetString()));
        var wildcard = await (await client.GetAsync("/api/users?q=%25")).ReadJsonAsync();
        Assert.Empty(wildcard.GetProperty("users").EnumerateArray());

        Assert.Equal("Cy", (await (await client.GetAsync("/api/users/3")).ReadJsonAsync()).GetProperty("name").GetString());
        var missing = await client.GetAsync("/api/users/99");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/users?limit=0")).StatusCode);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_search_page_looks_through_a_bounded_number_of_users_and_its_next_page_goes_on_from_there(Backend backend)
    {
        const int scan = ExperimentEtl.Storage.ReadModel.SearchScanUsers;
        var userCount = 2 * scan + scan / 2;
        int[] quills = [scan + scan / 4, userCount - 1];
        var users = new System.Text.StringBuilder("user_id,name,email,signup_date\n");
        for (var id = 1; id <= userCount; id++)
        {
            users.Append(CultureInfo.InvariantCulture, $"{id},{(quills.Contains(id) ? "Zed Quill" : "User " + id)},u{id}@x,2024-01-02\n");
        }
        using var files = new TestFiles(users: users.ToString());
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        async Task<List<int[]>> FollowAsync(string url)
        {
            var pages = new List<int[]>();
            for (string? next = url; next is not null && pages.Count < 10;)
            {
                var page = await (await client.GetAsync(next)).ReadJsonAsync();
                pages.Add([.. page.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("user_id").GetInt32())]);
                next = page.GetProperty("next").GetString();
            }
            return pages;
        }

        // Each page looks through the next `scan` users; a page that found none still leads on, the last leads nowhere.
        Assert.Equal([[], [quills[0]], [quills[1]]], await FollowAsync("/api/users?q=quill"));
        Assert.Equal([[], [], []], await FollowAsync("/api/users?q=nobody"));
        // A full page goes on after its last user, as pages without a search do.
        Assert.Equal([[], [quills[0]], [], [quills[1]], []], await FollowAsync("/api/users?q=quill&limit=1"));
        // Without a search nothing changes: pages are full until the last.
        Assert.Equal([1000, 1000, 500], (await FollowAsync($"/api/users?limit=1000&after={userCount - 2500}")).Select(page => page.Length));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Compounds_and_summary_count_experiments_and_distinct_users(Backend backend)
    {
        using var files = TieData();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        var empty = await (await client.GetAsync("/api/summary")).ReadJsonAsync();
        Assert.Equal((0L, System.Text.Json.JsonValueKind.Null), (empty.GetProperty("users").GetInt64(), empty.GetProperty("average_experiment_count").ValueKind));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        var compounds = (await (await client.GetAsync("/api/compounds")).ReadJsonAsync()).GetProperty("compounds").EnumerateArray()
            .Select(c => (c.GetProperty("name").GetString(), c.GetProperty("experiments").GetInt64(), c.GetProperty("users").GetInt32())).ToList();
        Assert.Equal([("Alpha", 1L, 1), ("Beta", 2L, 2), ("Gamma", 1L, 1)], compounds);

        var summary = await (await client.GetAsync("/api/summary")).ReadJsonAsync();
        Assert.Equal((3L, 3L, 3L), (summary.GetProperty("users").GetInt64(), summary.GetProperty("experiments").GetInt64(), summary.GetProperty("compounds").GetInt64()));
        Assert.Equal(1.0, summary.GetProperty("average_experiment_count").GetDouble(), 10);
        Assert.Equal(1.5, summary.GetProperty("average_experiment_count_active_users").GetDouble(), 10);
        Assert.Equal("Beta", summary.GetProperty("top_compounds")[0].GetProperty("name").GetString());
        Assert.Equal(("Ann", 2), (summary.GetProperty("top_users")[0].GetProperty("name").GetString(), summary.GetProperty("top_users")[0].GetProperty("experiments").GetInt32()));
        Assert.Equal([(0, 1L), (1, 1L), (2, 1L)], summary.GetProperty("experiments_per_user").EnumerateArray()
            .Select(b => (b.GetProperty("experiments").GetInt32(), b.GetProperty("users").GetInt64())));
        Assert.Equal("succeeded", summary.GetProperty("last_run").GetProperty("status").GetString());
    }

    [Fact]
    public async Task The_report_is_also_csv()
    {
        using var files = new TestFiles(users: "user_id,name,email,signup_date\n1,\"Doe, Jane\",j@x,2024-01-02\n2,=cmd,k@x,2024-01-02",
            experiments: "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,2,5");
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        var csv = await client.GetAsync("/report.csv");
        Assert.Equal("text/csv", csv.Content.Headers.ContentType?.MediaType);
        Assert.Equal("user_id,name,email,count,fav_compound,fav_compound_id\r\n1,\"Doe, Jane\",j@x,1,Compound B,2\r\n2,'=cmd,k@x,0,,\r\n",
            await csv.Content.ReadAsStringAsync());

        using var request = new HttpRequestMessage(HttpMethod.Get, "/report");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        var negotiated = await client.SendAsync(request);
        Assert.Equal("text/csv", negotiated.Content.Headers.ContentType?.MediaType);
        Assert.Equal("application/json", (await client.GetAsync("/report")).Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task The_openapi_document_describes_every_endpoint_and_the_docs_page_serves_it()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();
        var document = await (await client.GetAsync("/openapi/v1.json")).ReadJsonAsync();
        var paths = document.GetProperty("paths");
        foreach (var path in new[] { "/setup_test_db", "/csv", "/report", "/healthz", "/readyz", "/api/users", "/api/users/{userId}", "/api/compounds",
                     "/api/summary", "/api/etl/runs", "/api/etl/runs/{runId}", "/api/etl/runs/{runId}/rejects", "/report.csv" })
        {
            Assert.True(paths.TryGetProperty(path, out _), path);
        }
        var users = paths.GetProperty("/api/users").GetProperty("get");
        Assert.Contains(users.GetProperty("parameters").EnumerateArray(), p => p.GetProperty("name").GetString() == "limit");
        Assert.True(users.GetProperty("responses").TryGetProperty("400", out _));
        Assert.True(paths.GetProperty("/api/etl/runs").GetProperty("post").GetProperty("responses").TryGetProperty("409", out _));

        var docs = await client.GetAsync("/docs/");
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("openapi/v1.json", await docs.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }
}
