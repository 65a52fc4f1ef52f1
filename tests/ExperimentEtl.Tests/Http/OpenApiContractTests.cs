using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>
/// The OpenAPI document says what the service does: every answer of a walk through the whole API, errors included, is
/// checked against the document the service serves (<see cref="OpenApiContract"/>).
/// </summary>
public sealed class OpenApiContractTests
{
    const string Key = "contract-key";
    const string Runs = "/api/etl/runs";

    static MultipartFormDataContent Upload(string? users = TestFiles.SeedUsers, string? compounds = TestFiles.SeedCompounds)
    {
        var form = new MultipartFormDataContent();
        if (users is not null)
        {
            form.Add(new StringContent(users, Encoding.UTF8, "text/csv"), "users", "users.csv");
        }
        form.Add(new StringContent(TestFiles.SeedExperiments, Encoding.UTF8, "text/csv"), "user_experiments", "user_experiments.csv");
        if (compounds is not null)
        {
            form.Add(new StringContent(compounds, Encoding.UTF8, "text/csv"), "compounds", "compounds.csv");
        }
        return form;
    }

    /// <summary>The app with an API key, and clients whose every exchange is checked against its document.</summary>
    sealed class CheckedApp : IAsyncDisposable
    {
        readonly EtlAppFactory _app;
        readonly ContractCheckingHandler _checker;
        readonly ContractCheckingHandler _anonymousChecker;

        CheckedApp(EtlAppFactory app, OpenApiContract contract)
        {
            _app = app;
            Contract = contract;
            _checker = new ContractCheckingHandler(contract);
            _anonymousChecker = new ContractCheckingHandler(contract);
            Client = app.CreateDefaultClient(_checker);
            Client.DefaultRequestHeaders.Add("X-Api-Key", Key);
            Anonymous = app.CreateDefaultClient(_anonymousChecker);
        }

        public OpenApiContract Contract { get; }

        /// <summary>Sends the API key.</summary>
        public HttpClient Client { get; }

        /// <summary>Sends no key.</summary>
        public HttpClient Anonymous { get; }

        public IEnumerable<string> Violations => _checker.Violations.Concat(_anonymousChecker.Violations);

        public static async Task<CheckedApp> StartAsync(string dataDirectory)
        {
            var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, dataDirectory,
                new Dictionary<string, string> { ["API_KEY"] = Key, ["ETL_MAX_UPLOAD_BYTES"] = "65536" });
            return new CheckedApp(app, await OpenApiContract.LoadAsync(app.CreateClient()));
        }

        public ValueTask DisposeAsync() => _app.DisposeAsync();
    }

    static async Task<JsonElement> FollowAsync(HttpClient client, Uri location)
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

    /// <summary>Follows <c>next</c> to the end (at most 50 pages); every link is absolute.</summary>
    static async Task<int> PageToEndAsync(HttpClient client, string first, string items)
    {
        var count = 0;
        string? next = first;
        for (var pages = 0; next is not null; pages++)
        {
            Assert.True(pages < 50, $"more than 50 pages from {first}");
            var page = await (await client.GetAsync(next)).ReadJsonAsync();
            count += page.GetProperty(items).GetArrayLength();
            next = page.GetProperty("next").GetString();
            Assert.True(next is null || next.StartsWith("http://localhost/", StringComparison.Ordinal), $"next is not absolute: {next}");
        }
        return count;
    }

    [Fact]
    public async Task Every_answer_of_a_walk_through_the_api_is_what_the_document_says()
    {
        using var files = new TestFiles();
        await using var app = await CheckedApp.StartAsync(files.Directory);
        var (client, anonymous) = (app.Client, app.Anonymous);

        // Probes, set-up, the key.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/setup_test_db")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/setup_test_db")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode); // before any run

        // The seed's run, then a run over the data folder followed through its Location.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.PostAsync(Runs, null)).StatusCode);
        var started = await client.PostAsync(Runs, null);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        Assert.Equal("succeeded", (await FollowAsync(client, started.Headers.Location!)).GetProperty("status").GetString());

        // Uploads: waited for, invalid (strict: 422), lenient with a reject, and every way an upload is refused.
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync($"{Runs}?wait=true", Upload())).StatusCode);
        var badUsers = TestFiles.SeedUsers + "\nthree,\tCarol,\tcarol@example.com,\t2023-03-01\nfour,\tDan,\tdan@example.com,\t2023-03-02";
        var invalid = await client.PostAsync($"{Runs}?wait=true", Upload(badUsers));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, invalid.StatusCode);
        Assert.Equal(2, (await invalid.ReadJsonAsync()).GetProperty("errors").GetArrayLength());
        var lenient = await client.PostAsync($"{Runs}?wait=true&mode=lenient", Upload(badUsers));
        Assert.Equal(HttpStatusCode.OK, lenient.StatusCode);
        var lenientId = (await lenient.ReadJsonAsync()).GetProperty("run_id").GetString();
        Assert.Equal(2, await PageToEndAsync(client, $"{Runs}/{lenientId}/rejects?limit=1", "rejects"));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"{Runs}/{lenientId}/rejects?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"{Runs}?mode=careless", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync(Runs, Upload(compounds: null))).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync($"{Runs}?wait=maybe", null)).StatusCode);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, (await client.PostAsync(Runs, new StringContent("users"))).StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge,
            (await client.PostAsync(Runs, Upload(TestFiles.SeedUsers + new string('\n', 70_000)))).StatusCode);

        // Runs: pages, bad parameters, unknown ids, cancelling an ended run.
        Assert.Equal(5, await PageToEndAsync(client, $"{Runs}?limit=2", "runs"));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"{Runs}?limit=0")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"{Runs}?before=not-a-uuid")).StatusCode);
        var unknown = Guid.NewGuid();
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Runs}/{unknown}")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Runs}/{unknown}/rejects")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync($"{Runs}/{unknown}")).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.DeleteAsync($"{Runs}/{lenientId}")).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.DeleteAsync($"{Runs}/{lenientId}")).StatusCode);

        // What each load changed: the history to the end, the first load's lists to the end, and every refusal.
        Assert.Equal(4, await PageToEndAsync(client, "/api/history?limit=3", "loads"));
        var firstLoad = (await (await client.GetAsync("/api/history?limit=100")).ReadJsonAsync()).GetProperty("loads").EnumerateArray().Last()
            .GetProperty("run_id").GetString();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync($"{Runs}/{firstLoad}/changes")).StatusCode);
        Assert.Equal(2, await PageToEndAsync(client, $"{Runs}/{firstLoad}/changes/users?kind=added&limit=1", "users"));
        Assert.Equal(2, await PageToEndAsync(client, $"{Runs}/{firstLoad}/changes/compounds?kind=added&limit=1", "compounds"));
        Assert.Equal(3, await PageToEndAsync(client, $"{Runs}/{firstLoad}/changes/experiments?kind=added&limit=2", "experiments"));
        var invalidId = (await invalid.ReadJsonAsync()).GetProperty("run_id").GetString();
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Runs}/{invalidId}/changes")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"{Runs}/{unknown}/changes/users?kind=added")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"{Runs}/{firstLoad}/changes/users?kind=sideways")).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/history?limit=0")).StatusCode);

        // The data: pages to the end, one user, the summary, the report in both forms, and every refusal.
        Assert.Equal(2, await PageToEndAsync(client, "/api/users?limit=1", "users"));
        Assert.Equal(2, await PageToEndAsync(client, "/api/compounds?limit=1", "compounds"));
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/users/1")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/users/999")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/api/users/abc")).StatusCode);
        foreach (var bad in new[] { "/api/users?limit=0", "/api/users?limit=abc", "/api/users?q=a%00b", "/api/compounds?limit=1001", "/api/compounds?after=1.5" })
        {
            Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync(bad)).StatusCode);
        }
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/summary")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode);
        using var csvRequest = new HttpRequestMessage(HttpMethod.Get, "/report");
        csvRequest.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/csv"));
        Assert.Equal("text/csv", (await client.SendAsync(csvRequest)).Content.Headers.ContentType?.MediaType);
        Assert.Equal("text/csv", (await client.GetAsync("/report.csv")).Content.Headers.ContentType?.MediaType);
        Assert.Equal("application/vnd.apache.parquet", (await client.GetAsync("/report.parquet")).Content.Headers.ContentType?.MediaType);

        Assert.Empty(app.Violations);
        // The walk reached every operation of the document: a new endpoint needs its exchanges here.
        var reached = app.Contract.Covered.Select(c => string.Join(' ', c.Split(' ')[..2])).ToHashSet();
        Assert.Empty(app.Contract.Operations.Except(reached));
    }

    [Fact]
    public async Task A_run_in_progress_answers_409_with_its_id_and_cancelling_it_answers_the_cancelled_run()
    {
        using var files = new TestFiles(experiments: null);
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var app = await CheckedApp.StartAsync(files.Directory);
        var client = app.Client;

        var started = await client.PostAsync(Runs, null);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var runId = (await started.ReadJsonAsync()).GetProperty("run_id").GetString();
        await experiments.WaitForReaderAsync();
        await experiments.WriteAsync("experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1,\t10\n");

        var conflict = await client.PostAsync(Runs, null);
        Assert.Equal(HttpStatusCode.Conflict, conflict.StatusCode);
        Assert.Equal(runId, (await conflict.ReadJsonAsync()).GetProperty("running_run_id").GetString());
        Assert.Equal(HttpStatusCode.Conflict, (await client.GetAsync("/csv")).StatusCode);
        // Rows keep coming, as from a large file, until the run notices the cancellation.
        using var stop = new CancellationTokenSource();
        var streaming = experiments.StreamAsync("", id => $"{id + 1},\t1,\t1,\t10", stop.Token);
        var cancelled = await client.DeleteAsync($"{Runs}/{runId}");
        await stop.CancelAsync();
        await streaming;
        Assert.Equal(HttpStatusCode.OK, cancelled.StatusCode);
        Assert.Equal("cancelled", (await cancelled.ReadJsonAsync()).GetProperty("status").GetString());

        Assert.Empty(app.Violations);
    }

    [Fact]
    public async Task A_bad_parameter_or_path_is_a_problem_that_says_what_was_wrong()
    {
        using var files = new TestFiles();
        await using var app = await CheckedApp.StartAsync(files.Directory);
        var client = app.Client;

        var limit = await (await client.GetAsync($"{Runs}?limit=0")).ReadJsonAsync();
        Assert.Equal(["limit"], limit.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        var unparsable = await (await client.GetAsync("/api/users?limit=abc")).ReadJsonAsync();
        Assert.Contains("limit", unparsable.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var noRoute = await (await client.GetAsync("/api/users/abc")).ReadJsonAsync();
        Assert.Contains("/api/users/abc", noRoute.GetProperty("detail").GetString(), StringComparison.Ordinal);
        var noUser = await (await client.GetAsync("/api/users/999")).ReadJsonAsync();
        Assert.Equal("There is no user 999.", noUser.GetProperty("detail").GetString());
    }
}
