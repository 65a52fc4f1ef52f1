using System.Net;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>The seed's README walk-through, on every backend: setup, csv, report.</summary>
public sealed class SeedEndpointTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bundled_sample_gives_the_documented_report(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        var setup = await client.GetAsync("/setup_test_db");
        Assert.Equal(HttpStatusCode.OK, setup.StatusCode);
        Assert.False(string.IsNullOrEmpty((await setup.ReadJsonAsync()).GetProperty("message").GetString()));

        var run = await client.GetAsync("/csv");
        var summary = await run.ReadJsonAsync();
        Assert.Equal(HttpStatusCode.OK, run.StatusCode);
        Assert.Equal("succeeded", summary.GetProperty("status").GetString());
        Assert.Equal([10L, 3L, 11L], summary.GetProperty("files").EnumerateArray().Select(f => f.GetProperty("rows_loaded").GetInt64()));

        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        Assert.Equal(1.1, report.GetProperty("average_experiment_count").GetDouble(), 10);
        var users = report.GetProperty("user_reports").EnumerateArray().ToList();
        Assert.Equal(10, users.Count);
        Assert.Equal(("Alice", 2, "Compound B"), (users[0].GetProperty("name").GetString(), users[0].GetProperty("count").GetInt32(), users[0].GetProperty("fav_compound").GetString()));
        Assert.Equal(("Bob", 1, "Compound A"), (users[1].GetProperty("name").GetString(), users[1].GetProperty("count").GetInt32(), users[1].GetProperty("fav_compound").GetString()));
        Assert.Equal(Enumerable.Range(1, 10), users.Select(u => u.GetProperty("user_id").GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Report_before_any_run_is_empty(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var report = await (await app.CreateClient().GetAsync("/report")).ReadJsonAsync();
        Assert.Equal(System.Text.Json.JsonValueKind.Null, report.GetProperty("average_experiment_count").ValueKind);
        Assert.Empty(report.GetProperty("user_reports").EnumerateArray());
    }
}
