using System.Net;
using System.Text.Json.Nodes;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Changes;

/// <summary>
/// Loads of random exports and random edits of them, on every backend: each load's change, and every list behind it
/// paged to the end, equal what <see cref="ChangeOracle"/> computes from the two exports alone.
/// </summary>
public sealed class ChangeAgainstOracleTests
{
    static readonly string[] UserKinds = [ChangeOracle.Added, ChangeOracle.Removed, ChangeOracle.Changed, ChangeOracle.FavCompoundChanged, ChangeOracle.CountChanged];
    static readonly string[] RowKinds = [ChangeOracle.Added, ChangeOracle.Removed, ChangeOracle.Changed];

    /// <summary>Each backend with its reloads applied only as changes (not on Citus, which always loads in full) and in full.</summary>
    public static TheoryData<Backend, string> BackendsAndApply => new()
    {
        { Backend.Sqlite, "changes" }, { Backend.Sqlite, "full" }, { Backend.SqliteFile, "changes" }, { Backend.SqliteFile, "full" },
        { Backend.Postgres, "changes" }, { Backend.Postgres, "full" }, { Backend.Citus, "full" },
    };

    [Theory]
    [MemberData(nameof(BackendsAndApply))]
    public async Task Every_load_records_what_an_independent_computation_of_the_two_exports_expects(Backend backend, string apply)
    {
        var random = new Random(1000 + (int)backend);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 40, 10, 150);
        data.WriteTo(files.Directory);
        // These small exports change by large shares: reloads apply as changes whatever the share, or never.
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory,
            new Dictionary<string, string> { ["ETL_APPLY_CHANGES_UP_TO"] = apply == "changes" ? "1" : "0" });
        var client = app.CreateClient();

        var previousRun = await LoadAsync(client, "strict");
        await AssertChangeAsync(client, previousRun, null, ChangeOracle.Compute(null, data));

        for (var round = 1; round <= 4; round++)
        {
            var edited = ExportEditor.Edit(data, random, new EditOptions(Share: 0.15));
            edited.WriteTo(files.Directory);
            string run;
            if (round == 2)
            {
                // A strict run that fails records nothing; the next one (lenient, one row rejected) compares with the last success.
                AppendLine(files, "user_experiments.csv", "999999,\t999999,\t1,\t5");
                var failed = await client.PostAsync("/api/etl/runs?wait=true", null);
                Assert.Equal(HttpStatusCode.UnprocessableEntity, failed.StatusCode);
                var failedRun = (await failed.ReadJsonAsync()).GetProperty("run_id").GetString();
                Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync($"/api/etl/runs/{failedRun}/changes")).StatusCode);
                run = await LoadAsync(client, "lenient");
            }
            else
            {
                run = await LoadAsync(client, "strict");
            }
            await AssertChangeAsync(client, run, previousRun, ChangeOracle.Compute(data, edited));
            Assert.Equal(apply, (await GetAsync(client, $"/api/etl/runs/{run}")).GetProperty("apply").GetString());
            (data, previousRun) = (edited, run);
        }

        var history = (await GetAsync(client, "/api/history")).GetProperty("loads");
        Assert.Equal(5, history.GetArrayLength());
        Assert.Equal(previousRun, history[0].GetProperty("run_id").GetString());
    }

    [Fact]
    public async Task Two_server_processes_on_one_PostgreSQL_each_compare_with_the_load_the_other_published()
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(Backend.Postgres);
        var random = new Random(77);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 30, 8, 100);
        data.WriteTo(files.Directory);
        var environment = new Dictionary<string, string>
        {
            ["DATABASE_URL"] = database,
            ["ETL_DATA_DIR"] = files.Directory,
            ["Logging__LogLevel__Default"] = "Warning",
        };
        await using var first = await ServerProcess.StartAsync(environment);
        await using var second = await ServerProcess.StartAsync(environment);

        var previousRun = await LoadAsync(first.Client, "strict");
        for (var round = 1; round <= 4; round++)
        {
            var edited = ExportEditor.Edit(data, random, new EditOptions(Share: 0.15));
            edited.WriteTo(files.Directory);
            var (loader, reader) = round % 2 == 1 ? (second, first) : (first, second);
            var run = await LoadAsync(loader.Client, "strict");
            // Read through the other process: the change lives in the shared database, not in the process that loaded.
            await AssertChangeAsync(reader.Client, run, previousRun, ChangeOracle.Compute(data, edited));
            (data, previousRun) = (edited, run);
        }
    }

    static void AppendLine(TestFiles files, string file, string line)
    {
        var path = Path.Combine(files.Directory, file);
        var text = File.ReadAllText(path);
        File.WriteAllText(path, text + (text.EndsWith('\n') ? "" : "\n") + line + "\n");
    }

    static async Task<string> LoadAsync(HttpClient client, string mode)
    {
        var response = await client.PostAsync($"/api/etl/runs?wait=true&mode={mode}", null);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.ReadJsonAsync()).GetProperty("run_id").GetString()!;
    }

    static async Task<System.Text.Json.JsonElement> GetAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.ReadJsonAsync();
    }

    static async Task AssertChangeAsync(HttpClient client, string run, string? previousRun, ExpectedChange expected)
    {
        var answer = JsonNode.Parse((await GetAsync(client, $"/api/etl/runs/{run}/changes")).GetRawText())!.AsObject();
        Assert.Equal(run, (string?)answer["run_id"]);
        Assert.Equal(previousRun, (string?)answer["previous_run_id"]);
        answer.Remove("run_id");
        answer.Remove("previous_run_id");
        AssertSame(ChangeJson.ToNode(expected.Summary), answer, $"run {run}'s change");

        foreach (var kind in UserKinds)
        {
            AssertSame(ChangeJson.ToNode(expected.Users[kind]), await ListAsync(client, run, "users", kind), $"users {kind}");
        }
        foreach (var kind in RowKinds)
        {
            AssertSame(ChangeJson.ToNode(expected.Compounds[kind]), await ListAsync(client, run, "compounds", kind), $"compounds {kind}");
            AssertSame(ChangeJson.ToNode(expected.Experiments[kind]), await ListAsync(client, run, "experiments", kind), $"experiments {kind}");
        }
    }

    /// <summary>A change list, every page of 7 entries followed to the end.</summary>
    static async Task<JsonArray> ListAsync(HttpClient client, string run, string table, string kind)
    {
        var entries = new JsonArray();
        string? next = $"/api/etl/runs/{run}/changes/{table}?kind={kind}&limit=7";
        for (var pages = 0; next is not null; pages++)
        {
            Assert.True(pages < 100, $"more than 100 pages of {table} {kind}");
            var page = JsonNode.Parse((await GetAsync(client, next)).GetRawText())!;
            foreach (var entry in page[table]!.AsArray())
            {
                entries.Add(entry!.DeepClone());
            }
            next = (string?)page["next"];
        }
        return entries;
    }

    static void AssertSame(JsonNode? expected, JsonNode? actual, string what) =>
        Assert.True(JsonNode.DeepEquals(expected, actual), $"{what}:\nexpected {expected?.ToJsonString()}\nactual   {actual?.ToJsonString()}");
}
