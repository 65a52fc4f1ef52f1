using System.Net;
using ExperimentEtl.Tests.Infrastructure;
using Npgsql;

namespace ExperimentEtl.Tests.Storage;

/// <summary>What the PostgreSQL store leaves in the database, seen by someone who opens it with psql.</summary>
public sealed class PostgresStoreTests
{
    [Fact]
    public async Task A_database_written_by_the_previous_version_still_reports_favourites_after_an_upgrade()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        string loaded;
        await using (var previous = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory))
        {
            var client = previous.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
            loaded = await client.GetStringAsync("/report");
        }
        // The previous version's user_features had no copy of the favourite's name.
        await ExecuteAsync(database, "ALTER TABLE user_features DROP COLUMN fav_compound_name");

        await using var upgraded = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        var report = await upgraded.CreateClient().GetStringAsync("/report");

        Assert.Contains("\"fav_compound\":\"Compound B\"", report, StringComparison.Ordinal);
        Assert.Equal(loaded, report);
    }

    [Fact]
    public async Task Runs_leave_no_staging_tables_behind()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        files.Write("user_experiments.csv", "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,99,10");
        Assert.Equal(HttpStatusCode.UnprocessableEntity, (await client.GetAsync("/csv")).StatusCode);

        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(
            "SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables WHERE schemaname = current_schema()", connection);
        Assert.Equal("compound_features, compounds, dataset, experiments, rejects, runs, user_favorites, user_features, users",
            (string)(await command.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task A_reader_holding_the_tables_delays_the_swap_without_blocking_other_readers()
    {
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var before = await client.GetStringAsync("/api/users");

        // Someone streaming a large report: a transaction that has read the users and stays open.
        await using var holder = new NpgsqlConnection(database);
        await holder.OpenAsync();
        var holding = await holder.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM users", holder, holding))
        {
            await read.ExecuteScalarAsync();
        }

        var run = client.GetAsync("/csv");
        await WaitForAsync(database, "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'users'::regclass");

        // While the run waits to swap its tables in, other readers keep getting the current data.
        for (var i = 0; i < 3; i++)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.Equal(before, await client.GetStringAsync("/api/users", timeout.Token));
        }
        Assert.False(run.IsCompleted);

        await holding.CommitAsync();
        Assert.Equal(HttpStatusCode.OK, (await run).StatusCode);
        var after = await (await client.GetAsync("/report")).ReadJsonAsync();
        var runs = await (await client.GetAsync("/api/etl/runs")).ReadJsonAsync();
        Assert.Equal(runs.GetProperty("runs")[0].GetProperty("run_id").GetString(), after.GetProperty("run_id").GetString());
    }

    static async Task WaitForAsync(string database, string condition)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using var command = new NpgsqlCommand(condition, connection);
            if ((bool)(await command.ExecuteScalarAsync())!)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, $"not within 30 s: {condition}");
            await Task.Delay(20);
        }
    }

    static async Task ExecuteAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }
}
