using System.Text;
using ExperimentEtl.Client;
using ExperimentEtl.Client.Api.Etl.Runs;
using ExperimentEtl.Client.Models;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Kiota.Abstractions;
using Microsoft.Kiota.Abstractions.Authentication;
using Microsoft.Kiota.Http.HttpClientLibrary;

namespace ExperimentEtl.ClientTests;

/// <summary>
/// The client Kiota generates from the service's OpenAPI document walks the API with no hand-written HTTP: upload and run,
/// follow, report, every page to the end, a strict run's errors, a lenient run's rejects, the API key, the problem answers.
/// </summary>
public sealed class GeneratedClientTests : IAsyncLifetime
{
    const string Key = "client-test-key";
    const string Users = "user_id,name,email,signup_date\n1,Alice,alice@example.com,2023-01-01\n2,Bob,bob@example.com,2023-02-01\n3,Carol,carol@example.com,2023-03-01";
    const string Compounds = "compound_id,compound_name,compound_structure\n1,Compound A,C20H25N3O\n2,Compound B,C21H30O2";
    const string Experiments = "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1;2,10\n2,1,2,15\n3,2,1,20";

    readonly string _dataDirectory = Directory.CreateTempSubdirectory("etl-client-test-").FullName;
    readonly ServiceFactory _app;

    public GeneratedClientTests()
    {
        File.WriteAllText(Path.Combine(_dataDirectory, "users.csv"), Users);
        File.WriteAllText(Path.Combine(_dataDirectory, "compounds.csv"), Compounds);
        File.WriteAllText(Path.Combine(_dataDirectory, "user_experiments.csv"), Experiments);
        _app = new ServiceFactory(_dataDirectory);
    }

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        await _app.DisposeAsync();
        Directory.Delete(_dataDirectory, recursive: true);
    }

    /// <summary>The service in memory, with an API key, on its default ephemeral SQLite database.</summary>
    sealed class ServiceFactory(string dataDirectory) : WebApplicationFactory<Program>
    {
        protected override void ConfigureWebHost(IWebHostBuilder builder)
        {
            builder.UseSetting("DATABASE_URL", "");
            builder.UseSetting("API_DB_PATH", "");
            builder.UseSetting("ETL_DATA_DIR", dataDirectory);
            builder.UseSetting("API_KEY", Key);
        }
    }

    /// <summary>A generated client over the in-memory server; https, as Kiota's API key provider sends keys only there.</summary>
    (EtlClient Client, HttpClientRequestAdapter Adapter) CreateClient(string? key)
    {
        var http = _app.CreateClient(new WebApplicationFactoryClientOptions { BaseAddress = new Uri("https://localhost") });
        IAuthenticationProvider auth = key is null
            ? new AnonymousAuthenticationProvider()
            : new ApiKeyAuthenticationProvider(key, "X-Api-Key", ApiKeyAuthenticationProvider.KeyLocation.Header, "localhost");
        var adapter = new HttpClientRequestAdapter(auth, httpClient: http) { BaseUrl = "https://localhost" };
        return (new EtlClient(adapter), adapter);
    }

    static MultipartBody Upload(string users)
    {
        var body = new MultipartBody();
        body.AddOrReplacePart("users", "text/csv", new MemoryStream(Encoding.UTF8.GetBytes(users)), "users.csv");
        body.AddOrReplacePart("user_experiments", "text/csv", new MemoryStream(Encoding.UTF8.GetBytes(Experiments)), "user_experiments.csv");
        body.AddOrReplacePart("compounds", "text/csv", new MemoryStream(Encoding.UTF8.GetBytes(Compounds)), "compounds.csv");
        return body;
    }

    static async Task<RunRecord> FollowAsync(EtlClient client, Guid runId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var run = await client.Api.Etl.Runs[runId].GetAsync();
            if (run?.Status is not (RunRecord_status.Queued or RunRecord_status.Running))
            {
                return run!;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run did not end within 30 s");
            await Task.Delay(50);
        }
    }

    [Fact]
    public async Task The_generated_client_walks_the_whole_api()
    {
        var (client, adapter) = CreateClient(Key);
        Assert.Equal(HealthResponse_status.Ok, (await client.Healthz.GetAsync())!.Status);
        Assert.Equal(HealthResponse_status.Ready, (await client.Readyz.GetAsync())!.Status);
        Assert.False(string.IsNullOrEmpty((await client.Setup_test_db.GetAsync())!.Message));

        // Upload and run, waiting; then without waiting, followed to its end.
        var waited = await client.Api.Etl.Runs.PostAsync(Upload(Users), c => c.QueryParameters.Wait = true);
        Assert.Equal(RunRecord_status.Succeeded, waited!.Status);
        Assert.Equal(RunRecord_source.Upload, waited.Source);
        Assert.Equal(3, waited.Files!.Single(f => f.File == "users.csv").RowsLoaded);
        var started = await client.Api.Etl.Runs.PostAsync(Upload(Users));
        Assert.Equal(RunRecord_status.Succeeded, (await FollowAsync(client, started!.RunId!.Value)).Status);

        // A run over the data folder: the seed's /csv, and POST without a body (Kiota makes every body required, so the
        // generated builder makes the request, whose body is then left out).
        Assert.Equal(RunRecord_source.Data_folder, (await client.Csv.GetAsync())!.Source);
        var request = client.Api.Etl.Runs.ToPostRequestInformation(Upload(Users));
        request.Content = Stream.Null;
        request.Headers.Remove("Content-Type");
        var folderRun = await adapter.SendAsync(request, RunRecord.CreateFromDiscriminatorValue);
        Assert.Equal(RunRecord_status.Succeeded, (await FollowAsync(client, folderRun!.RunId!.Value)).Status);

        // The report: JSON, and CSV with a line per user.
        var report = await client.Report.GetAsync();
        Assert.Equal([1, 2, 3], report!.UserReports!.Select(u => u.UserId!.Value));
        Assert.Equal(1.0, report.AverageExperimentCount);
        Assert.Equal(2, report.UserReports![0].FavCompoundId);
        using var csv = new StreamReader((await client.ReportCsv.GetAsync())!);
        Assert.Equal(1 + 3, (await csv.ReadToEndAsync()).Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

        // Every page to the end by the next links, as they are.
        var users = new List<int>();
        for (var page = await client.Api.Users.GetAsync(c => c.QueryParameters.Limit = 2); page is not null;
             page = page.Next is { } next ? await client.Api.Users.WithUrl(next).GetAsync() : null)
        {
            users.AddRange(page.Users!.Select(u => u.UserId!.Value));
        }
        Assert.Equal([1, 2, 3], users);
        var compounds = new List<int>();
        for (var page = await client.Api.Compounds.GetAsync(c => c.QueryParameters.Limit = 1); page is not null;
             page = page.Next is { } next ? await client.Api.Compounds.WithUrl(next).GetAsync() : null)
        {
            compounds.AddRange(page.Compounds!.Select(c => c.CompoundId!.Value));
        }
        Assert.Equal([1, 2], compounds);
        var runs = 0;
        for (var page = await client.Api.Etl.Runs.GetAsync(c => c.QueryParameters.Limit = 1); page is not null;
             page = page.Next is { } next ? await client.Api.Etl.Runs.WithUrl(next).GetAsync() : null)
        {
            runs += page.Runs!.Count;
        }
        Assert.Equal(4, runs);
        Assert.Equal("Alice", (await client.Api.Users[1].GetAsync())!.Name);
        Assert.Equal(3, (await client.Api.Summary.GetAsync())!.Users);

        // A strict run's errors, typed; a lenient run's rejects, page by page.
        var badUsers = Users + "\nfour,Dan,dan@example.com,2023-04-01\n5,Eve,eve@example.com,not-a-date";
        var invalid = await Assert.ThrowsAsync<InvalidInputProblem>(() => client.Api.Etl.Runs.PostAsync(Upload(badUsers), c => c.QueryParameters.Wait = true));
        Assert.Equal(422, invalid.Status);
        Assert.Equal(2, invalid.ErrorCount);
        Assert.Equal([(5L, "user_id"), (6L, "signup_date")], invalid.Errors!.Select(e => (e.Line!.Value, e.Column!)));
        Assert.All(invalid.Errors!, e => Assert.Equal("users.csv", e.File));
        Assert.Equal(RunRecord_status.Failed, (await client.Api.Etl.Runs[invalid.RunId!.Value].GetAsync())!.Status);
        var lenient = await client.Api.Etl.Runs.PostAsync(Upload(badUsers), c =>
        {
            c.QueryParameters.Wait = true;
            c.QueryParameters.Mode = PostModeQueryParameterType.Lenient;
        });
        Assert.Equal(2, lenient!.RejectedCount);
        var rejected = new List<long>();
        for (var page = await client.Api.Etl.Runs[lenient.RunId!.Value].Rejects.GetAsync(c => c.QueryParameters.Limit = 1); page is not null;
             page = page.Next is { } next ? await client.Api.Etl.Runs[lenient.RunId!.Value].Rejects.WithUrl(next).GetAsync() : null)
        {
            rejected.AddRange(page.Rejects!.Select(r => r.Line!.Value));
        }
        Assert.Equal([5L, 6L], rejected);

        // Problems come back typed: the key, unknown ids, a parameter out of range, an ended run.
        var (anonymous, _) = CreateClient(key: null);
        var refused = await Assert.ThrowsAsync<Problem>(() => anonymous.Api.Etl.Runs.PostAsync(Upload(Users)));
        Assert.Equal(401, refused.ResponseStatusCode);
        Assert.Contains("X-Api-Key", refused.Detail!, StringComparison.Ordinal);
        var (wrongKey, _) = CreateClient("not-the-key");
        Assert.Equal(401, (await Assert.ThrowsAsync<Problem>(() => wrongKey.Csv.GetAsync())).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<Problem>(() => client.Api.Users[999].GetAsync())).Status);
        Assert.Equal(404, (await Assert.ThrowsAsync<Problem>(() => client.Api.Etl.Runs[Guid.NewGuid()].GetAsync())).Status);
        var outOfRange = await Assert.ThrowsAsync<InvalidParametersProblem>(() => client.Api.Etl.Runs.GetAsync(c => c.QueryParameters.Limit = 0));
        Assert.Equal(["limit"], outOfRange.Errors!.AdditionalData.Keys);
        var ended = await Assert.ThrowsAsync<Problem>(() => client.Api.Etl.Runs[lenient.RunId!.Value].DeleteAsync());
        Assert.Equal(409, ended.Status);
    }
}
