using System.Net;
using ExperimentEtl.Tests.Infrastructure;
using Npgsql;

namespace ExperimentEtl.Tests.Storage;

/// <summary>What the service does on a Citus cluster (a coordinator and two workers), seen in the cluster's own catalogs.</summary>
public sealed class CitusStoreTests
{
    [Fact]
    public async Task The_data_is_distributed_by_user_id_colocated_with_compounds_as_reference_tables_and_runs_on_the_coordinator()
    {
        var database = await TestCitus.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        Assert.Equal(HttpStatusCode.OK, (await app.CreateClient().GetAsync("/csv")).StatusCode);

        var tables = await Sql.QueryAsync(database, """
            SELECT t.table_name::text, t.citus_table_type, t.distribution_column, t.colocation_id
            FROM citus_tables t JOIN data_generation g ON t.table_name::text LIKE 'etl_gen_' || g.generation || '.%'
            ORDER BY 1
            """, r => (Name: r.GetString(0)[(r.GetString(0).IndexOf('.', StringComparison.Ordinal) + 1)..], Type: r.GetString(1), Column: r.GetString(2), Colocation: r.GetInt32(3)));
        Assert.Equal(
            [("compound_features", "reference", "<none>"), ("compounds", "reference", "<none>"), ("experiments", "distributed", "user_id"),
             ("user_favorites", "distributed", "user_id"), ("user_features", "distributed", "user_id"), ("users", "distributed", "user_id")],
            tables.Select(t => (t.Name, t.Type, t.Column)));
        Assert.Single(tables.Where(t => t.Type == "distributed").Select(t => t.Colocation).Distinct());
        // Runs, rejects and the published generation stay plain tables on the coordinator.
        Assert.Equal(0L, (await Sql.QueryAsync(database,
            "SELECT count(*) FROM pg_dist_partition WHERE logicalrelid IN ('runs'::regclass, 'rejects'::regclass, 'data_generation'::regclass)",
            r => r.GetInt64(0))).Single());
        // Citus wants the distribution column in every unique key.
        Assert.Equal("PRIMARY KEY (user_id, experiment_id)", (await Sql.QueryAsync(database, """
            SELECT pg_get_constraintdef(c.oid) FROM pg_constraint c JOIN data_generation g
                ON c.conrelid = format('etl_gen_%s.experiments', g.generation)::regclass WHERE c.contype = 'p'
            """, r => r.GetString(0))).Single());
    }

    [Fact]
    public async Task Users_and_experiments_land_on_both_workers()
    {
        var database = await TestCitus.CreateDatabaseAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory);
        Assert.Equal(HttpStatusCode.OK, (await app.CreateClient().GetAsync("/csv")).StatusCode);
        var generation = (await Sql.QueryAsync(database, "SELECT generation FROM data_generation", r => r.GetInt64(0))).Single();

        var perWorker = new List<(long Users, long Experiments)>();
        foreach (var worker in await WorkersAsync(database))
        {
            perWorker.Add((await CountShardRowsAsync(worker, $"etl_gen_{generation}", "users"), await CountShardRowsAsync(worker, $"etl_gen_{generation}", "experiments")));
        }

        Assert.Equal(2, perWorker.Count);
        Assert.All(perWorker, w => Assert.True(w.Users > 0 && w.Experiments > 0, $"a worker holds {w.Users} users and {w.Experiments} experiments"));
        Assert.Equal((10L, 11L), (perWorker.Sum(w => w.Users), perWorker.Sum(w => w.Experiments)));
    }

    [Fact]
    public async Task A_worker_stopped_during_a_run_fails_it_with_503_naming_the_node_and_the_next_run_succeeds_once_it_is_back()
    {
        await using var cluster = await TestCitus.StartOwnClusterAsync();
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(cluster.ConnectionString, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var before = await client.GetStringAsync("/api/users");
        var sample = File.ReadAllText(Path.Combine(files.Directory, "user_experiments.csv"));
        File.Delete(Path.Combine(files.Directory, "user_experiments.csv"));
        await using var experiments = new Fifo(Path.Combine(files.Directory, "user_experiments.csv"));
        var run = client.GetAsync("/csv");
        await experiments.WaitForReaderAsync(); // Users and compounds are on the workers; the run waits for experiments.
        var workerPort = new NpgsqlConnectionStringBuilder(cluster.NodeConnectionString("worker1")).Port;

        await cluster.StopNodeAsync("worker1");
        await experiments.WriteAsync(sample);
        await experiments.CloseAsync();

        var response = await run;
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var problem = await response.ReadJsonAsync();
        Assert.Contains($":{workerPort}", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", problem.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await client.GetAsync("/readyz")).StatusCode);

        await cluster.ResumeNodeAsync("worker1");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);
        Assert.Equal(before, await client.GetStringAsync("/api/users"));
        // Nothing of the failed run on any node: one generation's tables, the published one.
        foreach (var node in new[] { "coordinator", "worker1", "worker2" })
        {
            Assert.Equal(1, await GenerationCountAsync(cluster.NodeConnectionString(node)));
        }
        Assert.Equal(0L, (await Sql.QueryAsync(cluster.NodeConnectionString("worker1"), "SELECT count(*) FROM pg_prepared_xacts", r => r.GetInt64(0))).Single());

        files.Write("user_experiments.csv", sample);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        Assert.Equal(before, await client.GetStringAsync("/api/users"));
    }

    /// <summary>Generation schemas in the database (on a worker: those its shards live in).</summary>
    static async Task<int> GenerationCountAsync(string database) =>
        (int)(await Sql.QueryAsync(database, "SELECT count(*) FROM pg_namespace WHERE nspname LIKE 'etl\\_gen\\_%'", r => r.GetInt64(0))).Single();

    /// <summary>Connection strings for the test's database on each worker, with the coordinator's credentials.</summary>
    static async Task<IReadOnlyList<string>> WorkersAsync(string database) =>
        await Sql.QueryAsync(database, "SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid",
            r => new NpgsqlConnectionStringBuilder(database) { Host = r.GetString(0), Port = r.GetInt32(1) }.ConnectionString);

    /// <summary>Rows in the shards of <paramref name="table"/> that a worker holds, counted on the worker itself.</summary>
    static async Task<long> CountShardRowsAsync(string worker, string schema, string table)
    {
        await using var connection = new NpgsqlConnection(worker);
        await connection.OpenAsync();
        // Citus hides shards from catalog queries by default.
        await using (var show = new NpgsqlCommand("SET citus.override_table_visibility TO off", connection))
        {
            await show.ExecuteNonQueryAsync();
        }
        var shards = new List<string>();
        await using (var list = new NpgsqlCommand(
            $"SELECT c.relname FROM pg_class c WHERE c.relnamespace = '{schema}'::regnamespace AND c.relkind = 'r' AND c.relname ~ '^{table}_[0-9]+$'", connection))
        await using (var reader = await list.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                shards.Add(reader.GetString(0));
            }
        }
        Assert.NotEmpty(shards);
        await using var count = new NpgsqlCommand(
            "SELECT " + string.Join(" + ", shards.Select(s => $"(SELECT count(*) FROM {schema}.{s})")), connection);
        return (long)(await count.ExecuteScalarAsync())!;
    }
}
