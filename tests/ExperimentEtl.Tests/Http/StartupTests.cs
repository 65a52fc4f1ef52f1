using System.Net;
using ExperimentEtl.Tests.Cli;
using ExperimentEtl.Tests.Infrastructure;
using Npgsql;

namespace ExperimentEtl.Tests.Http;

/// <summary>Start-up as an operator sees it, on real server processes: bad settings, and a database that is not there yet.</summary>
public sealed class StartupTests
{
    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    public async Task An_API_KEY_that_is_set_but_empty_stops_the_start_with_an_error(string key)
    {
        var result = await CliProcess.RunAsync(new Dictionary<string, string> { ["API_KEY"] = key }, "--urls", "http://127.0.0.1:0");

        Assert.True(result.ExitCode == 1, result.ToString());
        Assert.StartsWith("error: API_KEY is set but empty", result.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_server_listens_at_once_and_is_ready_once_the_database_appears()
    {
        // A database that does not exist yet: PostgreSQL answers, but refuses the connection.
        var url = new NpgsqlConnectionStringBuilder(await TestPostgres.CreateDatabaseAsync());
        var existing = url.Database!;
        url.Database = existing + "_late";
        using var files = TestFiles.BundledSample();
        await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
        {
            ["DATABASE_URL"] = url.ConnectionString,
            ["ETL_DATA_DIR"] = files.Directory,
            ["Logging__LogLevel__Default"] = "Warning",
        }, untilReady: false);

        Assert.Equal(HttpStatusCode.OK, (await server.Client.GetAsync("/healthz")).StatusCode);
        var ready = await server.Client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        Assert.Contains("preparing the schema", (await ready.ReadJsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        foreach (var path in new[] { "/api/users", "/report", "/report.parquet", "/api/etl/runs" })
        {
            var answer = await server.Client.GetAsync(path);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, answer.StatusCode);
            Assert.Equal("application/problem+json", answer.Content.Headers.ContentType?.MediaType);
        }
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await server.Client.PostAsync("/api/etl/runs", null)).StatusCode);

        url.Database = existing;
        await using (var connection = new NpgsqlConnection(url.ConnectionString))
        {
            await connection.OpenAsync();
            await using var create = new NpgsqlCommand($"CREATE DATABASE {existing}_late", connection);
            await create.ExecuteNonQueryAsync();
        }

        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((await server.Client.GetAsync("/readyz")).StatusCode != HttpStatusCode.OK)
        {
            Assert.True(DateTime.UtcNow < deadline, $"not ready 60 s after the database appeared:\n{server.Output}");
            await Task.Delay(200);
        }
        Assert.Equal(HttpStatusCode.OK, (await server.Client.PostAsync("/api/etl/runs?wait=true", null)).StatusCode);
        Assert.Equal(10, (await (await server.Client.GetAsync("/api/users")).ReadJsonAsync()).GetProperty("users").GetArrayLength());
        Assert.Contains("Could not prepare", server.Output, StringComparison.Ordinal);
    }
}
