using System.Net;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExperimentEtl.Tests.Storage;

/// <summary>What the PostgreSQL store leaves in the database, seen by someone who opens it with psql.</summary>
public sealed class PostgresStoreTests
{
    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task Pooled_connections_come_back_from_loads_and_reads_as_they_went(Backend backend)
    {
        // The service does not reset connections it returns to the pool (it sets nothing beyond a transaction): a
        // session-level setting, lock, temporary table or open transaction left behind would reach the next request.
        var pooled = new NpgsqlConnectionStringBuilder(await EtlAppFactory.CreateServerDatabaseAsync(backend))
        {
            Pooling = true,
            MaxPoolSize = 3,
        }.ConnectionString;
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(pooled, files.Directory);
        var client = app.CreateClient();
        for (var run = 0; run < 2; run++)
        {
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
            foreach (var path in new[] { "/report", "/api/summary", "/api/users?q=a", "/api/users/1", "/api/compounds", "/api/etl/runs" })
            {
                Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(path)).StatusCode);
            }
        }

        // Every connection of the pool at once (a connection it makes now is new, and clean by definition).
        var dataSource = app.Services.GetRequiredService<NpgsqlDataSource>();
        var connections = new List<NpgsqlConnection>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                connections.Add(await dataSource.OpenConnectionAsync());
            }
            foreach (var connection in connections)
            {
                await using var command = new NpgsqlCommand("""
                    SELECT current_setting('search_path'), current_setting('lock_timeout'),
                           current_setting('client_connection_check_interval'),
                           (SELECT count(*) FROM pg_locks WHERE pid = pg_backend_pid() AND locktype = 'advisory'),
                           pg_my_temp_schema() = 0, (SELECT count(*) FROM pg_listening_channels())
                    """, connection);
                await using var reader = await command.ExecuteReaderAsync();
                Assert.True(await reader.ReadAsync());
                Assert.Equal(("\"$user\", public", "0", "0", 0L, true, 0L),
                    (reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3), reader.GetBoolean(4), reader.GetInt64(5)));
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

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
    public async Task A_load_statement_that_lasts_longer_than_the_command_timeout_is_not_cut_short()
    {
        // Statements may take 1 s (the default is 30 s, which key builds pass at 30M experiments); the feature tables'
        // statements are made to take longer by a table this test holds.
        var database = await TestPostgres.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database + ";Command Timeout=1", files.Directory);
        var client = app.CreateClient();
        await using var held = await HeldFeatureTables.HoldAsync(database);

        var run = client.GetAsync("/csv");
        await held.WaitForLoadAsync();
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // Past the command timeout.
        await held.ReleaseAsync();

        Assert.Equal(HttpStatusCode.OK, (await run).StatusCode);
    }

    [Fact]
    public async Task A_reader_holding_the_tables_delays_the_swap_without_blocking_other_readers()
    {
        await using var held = await HeldSwap.StartAsync();

        // While the run waits to swap its tables in, other readers keep getting the current data.
        for (var i = 0; i < 3; i++)
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            Assert.Equal(held.Before, await held.Client.GetStringAsync("/api/users", timeout.Token));
        }
        Assert.Equal("running", await held.StatusAsync());

        await held.ReleaseAsync();
        Assert.Equal("succeeded", await held.WaitForEndAsync());
        Assert.Contains("\"name\":\"Alicia\"", await held.Client.GetStringAsync("/api/users"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_run_cancelled_while_it_waits_to_swap_leaves_the_previous_data_and_no_staging_tables()
    {
        await using var held = await HeldSwap.StartAsync();

        await held.Client.DeleteAsync($"/api/etl/runs/{held.RunId}");
        var status = await held.WaitForEndAsync();
        await held.ReleaseAsync();

        Assert.Equal("cancelled", status);
        Assert.Equal(held.Before, await held.Client.GetStringAsync("/api/users"));
        await using var connection = new NpgsqlConnection(held.Database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_next'", connection);
        Assert.Equal(0L, (long)(await command.ExecuteScalarAsync())!);
    }

    /// <summary>
    /// The bundled sample loaded, a reader holding the users table (as a report streamed to a slow client would), and
    /// a second run (Alice renamed Alicia) that has built everything and waits to swap its tables in.
    /// </summary>
    sealed class HeldSwap : IAsyncDisposable
    {
        public required string Database { get; init; }

        public required TestFiles Files { get; init; }

        public required EtlAppFactory App { get; init; }

        public required HttpClient Client { get; init; }

        /// <summary>/api/users before the second run.</summary>
        public required string Before { get; init; }

        public required NpgsqlConnection Holder { get; init; }

        public required NpgsqlTransaction Holding { get; init; }

        public required string RunId { get; init; }

        public static async Task<HeldSwap> StartAsync()
        {
            var database = await TestPostgres.CreateDatabaseAsync();
            var files = TestFiles.BundledSample();
            var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
            var client = app.CreateClient();
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
            var before = await client.GetStringAsync("/api/users");
            files.Write("users.csv", File.ReadAllText(Path.Combine(files.Directory, "users.csv")).Replace("Alice", "Alicia", StringComparison.Ordinal));

            var holder = new NpgsqlConnection(database);
            await holder.OpenAsync();
            var holding = await holder.BeginTransactionAsync();
            await using (var read = new NpgsqlCommand("SELECT count(*) FROM users", holder, holding))
            {
                await read.ExecuteScalarAsync();
            }
            var started = await client.PostAsync("/api/etl/runs", null);
            Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
            var runId = (await started.ReadJsonAsync()).GetProperty("run_id").GetString()!;
            await WaitForAsync(database, "SELECT count(*) > 0 FROM pg_locks WHERE NOT granted AND relation = 'users'::regclass");
            return new HeldSwap
            {
                Database = database,
                Files = files,
                App = app,
                Client = client,
                Before = before,
                Holder = holder,
                Holding = holding,
                RunId = runId,
            };
        }

        public Task ReleaseAsync() => Holding.CommitAsync();

        public async Task<string> StatusAsync() =>
            (await (await Client.GetAsync($"/api/etl/runs/{RunId}")).ReadJsonAsync()).GetProperty("status").GetString()!;

        /// <summary>Waits (30 s at most) for the run to end; returns how it ended.</summary>
        public async Task<string> WaitForEndAsync()
        {
            var deadline = DateTime.UtcNow.AddSeconds(30);
            string status;
            while ((status = await StatusAsync()) is "queued" or "running")
            {
                Assert.True(DateTime.UtcNow < deadline, $"run {RunId} still {status} after 30 s");
                await Task.Delay(50);
            }
            return status;
        }

        public async ValueTask DisposeAsync()
        {
            await Holding.DisposeAsync();
            await Holder.DisposeAsync();
            await App.DisposeAsync();
            Files.Dispose();
        }
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
