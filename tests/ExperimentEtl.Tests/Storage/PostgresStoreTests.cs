using System.Net;
using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExperimentEtl.Tests.Storage;

/// <summary>What the PostgreSQL and Citus stores leave in the database, seen by someone who opens it with psql.</summary>
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
    public async Task A_database_of_the_earlier_layout_keeps_its_data_set_after_an_upgrade_and_the_next_load_replaces_it()
    {
        // What versions that swapped tables in place left: the data set in the database's own schema, and (before
        // fav_compound_name) a user_features without the favourite's name.
        var database = await TestPostgres.CreateDatabaseAsync();
        await Sql.ExecuteAsync(database, """
            CREATE TABLE users (user_id integer PRIMARY KEY, name text NOT NULL, email text NOT NULL, signup_date date NOT NULL);
            CREATE TABLE compounds (compound_id integer PRIMARY KEY, name text NOT NULL, structure text NOT NULL);
            CREATE TABLE experiments (experiment_id integer PRIMARY KEY, user_id integer NOT NULL, compound_ids integer[] NOT NULL, run_time integer NOT NULL);
            CREATE TABLE user_features (user_id integer PRIMARY KEY, experiment_count integer NOT NULL, fav_compound_id integer);
            CREATE TABLE user_favorites (user_id integer NOT NULL, compound_id integer NOT NULL, experiments integer NOT NULL, PRIMARY KEY (user_id, compound_id));
            CREATE TABLE compound_features (compound_id integer PRIMARY KEY, experiments bigint NOT NULL, users integer NOT NULL);
            CREATE TABLE dataset (id integer PRIMARY KEY CHECK (id = 1), run_id uuid, loaded_at timestamptz NOT NULL,
                users bigint NOT NULL, experiments bigint NOT NULL, compounds bigint NOT NULL, active_users bigint NOT NULL);
            CREATE TABLE users_next (user_id integer);
            INSERT INTO users VALUES (70, 'Zelda', 'zelda@example.com', '2023-03-01');
            INSERT INTO compounds VALUES (2, 'Compound B', 'C21H30O2');
            INSERT INTO experiments VALUES (1, 70, '{2}', 10);
            INSERT INTO user_features VALUES (70, 1, 2);
            INSERT INTO user_favorites VALUES (70, 2, 1);
            INSERT INTO compound_features VALUES (2, 1, 1);
            INSERT INTO dataset VALUES (1, NULL, now(), 1, 1, 1, 1);
            """);
        using var files = TestFiles.BundledSample();
        await using var upgraded = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        var client = upgraded.CreateClient();

        var report = await client.GetStringAsync("/report");
        Assert.Contains("\"name\":\"Zelda\"", report, StringComparison.Ordinal);
        Assert.Contains("\"fav_compound\":\"Compound B\"", report, StringComparison.Ordinal);
        Assert.Equal(1, (await client.GetStringAsync("/api/users")).Split("\"user_id\"").Length - 1);

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        Assert.DoesNotContain("Zelda", await client.GetStringAsync("/report"), StringComparison.Ordinal);
        Assert.Equal("change_compounds, change_experiments, change_users, data_generation, load_history, rejects, runs", await TablesAsync(database, "current_schema()"));
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

        // The database's own schema holds runs and the pointer; one generation, the published one, holds the data set.
        Assert.Equal("change_compounds, change_experiments, change_users, data_generation, load_history, rejects, runs", await TablesAsync(database, "current_schema()"));
        Assert.Equal(["etl_gen_2"], await GenerationsAsync(database));
        Assert.Equal("compound_features, compounds, dataset, experiments, user_favorites, user_features, users",
            await TablesAsync(database, "(SELECT 'etl_gen_' || generation FROM data_generation)"));
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
        await using var held = await HeldPublish.HoldAsync(database);

        var run = client.GetAsync("/csv");
        await held.WaitForLoadAsync();
        await Task.Delay(TimeSpan.FromSeconds(2.5)); // Past the command timeout.
        await held.ReleaseAsync();

        Assert.Equal(HttpStatusCode.OK, (await run).StatusCode);
    }

    /// <summary>Each server with its reloads applied in full and (not on Citus) as changes only.</summary>
    public static TheoryData<Backend, string> ServersAndApply => new()
    {
        { Backend.Postgres, "full" }, { Backend.Postgres, "changes" }, { Backend.Citus, "full" },
    };

    static Dictionary<string, string> Apply(string apply) => new() { ["ETL_APPLY_CHANGES_UP_TO"] = apply == "full" ? "0" : "1" };

    [Theory]
    [MemberData(nameof(ServersAndApply))]
    public async Task A_reader_keeps_its_data_set_while_a_load_publishes_the_next_one_and_the_old_one_is_dropped_afterwards(Backend backend, string apply)
    {
        // A report streamed to a slow client holds its data set for as long as it takes: a generation replaced by a
        // full load, or the snapshot of the generation a change-only reload changes in place.
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory, Apply(apply));
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var store = app.Services.GetRequiredService<IEtlStore>();

        var names = new List<string>();
        await using (var report = await store.OpenReportAsync(CancellationToken.None))
        {
            files.Write("users.csv", File.ReadAllText(Path.Combine(files.Directory, "users.csv")).Replace("Alice", "Alicia", StringComparison.Ordinal));
            // The load does not wait for the reader, nor do other readers.
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv", timeout.Token)).StatusCode);
            Assert.Contains("Alicia", await client.GetStringAsync("/report", timeout.Token), StringComparison.Ordinal);
            Assert.Contains("\"name\":\"Alicia\"", await client.GetStringAsync("/api/users", timeout.Token), StringComparison.Ordinal);
            await foreach (var user in report.ReadUsersAsync(CancellationToken.None))
            {
                names.Add(user.Name);
            }
            Assert.Equal(apply == "full" ? 2 : 1, (await GenerationsAsync(database)).Count);
        }
        Assert.Equal("Alice", names[0]);
        Assert.Equal(10, names.Count);

        // The next load drops the generation the reader held.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        Assert.Single(await GenerationsAsync(database));
        var runs = (await (await client.GetAsync("/api/etl/runs")).ReadJsonAsync()).GetProperty("runs");
        Assert.Equal(apply, runs[0].GetProperty("apply").GetString());
    }

    [Theory]
    [MemberData(nameof(ServersAndApply))]
    public async Task A_run_cancelled_while_it_waits_to_publish_leaves_the_previous_data_and_no_generation_behind(Backend backend, string apply)
    {
        var database = await EtlAppFactory.CreateServerDatabaseAsync(backend);
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory, Apply(apply));
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var before = await client.GetStringAsync("/api/users");
        var published = await GenerationsAsync(database);
        files.Write("users.csv", File.ReadAllText(Path.Combine(files.Directory, "users.csv")).Replace("Alice", "Alicia", StringComparison.Ordinal));

        // A change-only reload is held once it has changed the rows in place, at its change's first look at the history.
        await using var held = apply == "full" ? await HeldPublish.HoldAsync(database) : await HeldPublish.HoldChangeAsync(database);
        var started = await client.PostAsync("/api/etl/runs", null);
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var runId = (await started.ReadJsonAsync()).GetProperty("run_id").GetString()!;
        await held.WaitForLoadAsync();
        // Readers are not held by a load waiting to publish.
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10)))
        {
            Assert.Equal(before, await client.GetStringAsync("/api/users", timeout.Token));
        }

        await client.DeleteAsync($"/api/etl/runs/{runId}");
        var status = await WaitForEndAsync(client, runId);
        await held.ReleaseAsync();

        Assert.Equal("cancelled", status);
        Assert.Equal(before, await client.GetStringAsync("/api/users"));
        Assert.Equal(published, await GenerationsAsync(database));
    }

    /// <summary>Waits (30 s at most) for the run to end; returns how it ended.</summary>
    static async Task<string> WaitForEndAsync(HttpClient client, string runId)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        string status;
        while ((status = (await (await client.GetAsync($"/api/etl/runs/{runId}")).ReadJsonAsync()).GetProperty("status").GetString()!) is "queued" or "running")
        {
            Assert.True(DateTime.UtcNow < deadline, $"run {runId} still {status} after 30 s");
            await Task.Delay(50);
        }
        return status;
    }

    /// <summary>The generation schemas in the database, by name.</summary>
    static async Task<List<string>> GenerationsAsync(string database) =>
        await Sql.QueryAsync(database, "SELECT nspname::text FROM pg_namespace WHERE nspname LIKE 'etl\\_gen\\_%' ORDER BY 1", r => r.GetString(0));

    /// <summary>The tables of a schema (an SQL expression), comma-separated by name.</summary>
    static async Task<string> TablesAsync(string database, string schema) =>
        (await Sql.QueryAsync(database, $"SELECT string_agg(tablename, ', ' ORDER BY tablename) FROM pg_tables WHERE schemaname = {schema}",
            r => r.GetString(0))).Single();
}
