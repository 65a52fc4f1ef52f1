using Npgsql;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// The Citus cluster (a coordinator and two workers) the tests use: the one whose coordinator <c>ETL_TEST_CITUS_URL</c>
/// names (what .ci/run starts), else one started here with <c>scripts/citus-cluster.sh</c> and stopped when the test run
/// ends. Tests that need it fail (never skip) when neither is possible, naming what installs Citus.
/// </summary>
public static class TestCitus
{
    static readonly Lazy<Task<string>> Shared = new(() => StartAsync(Environment.GetEnvironmentVariable("ETL_TEST_CITUS_URL")));

    /// <summary>
    /// Creates an empty database on every node of the shared cluster, with the extension and the workers registered,
    /// and returns the coordinator's connection string for it.
    /// </summary>
    public static async Task<string> CreateDatabaseAsync() => await CreateDatabaseAsync(await Shared.Value);

    /// <summary>A cluster of the test's own, for a test that stops one of its nodes; stopped when disposed.</summary>
    public static async Task<OwnCluster> StartOwnClusterAsync()
    {
        var directory = Directory.CreateTempSubdirectory("etl-test-citus-").FullName;
        var url = await StartClusterAsync(directory);
        return new OwnCluster(directory, await CreateDatabaseAsync(url));
    }

    // citus_add_node creates the coordinator's roles on the worker: two at once fail with "tuple concurrently updated".
    static readonly SemaphoreSlim OneAtATime = new(1, 1);

    static async Task<string> CreateDatabaseAsync(string coordinatorUrl)
    {
        await OneAtATime.WaitAsync();
        try
        {
            return await CreateDatabaseAloneAsync(coordinatorUrl);
        }
        finally
        {
            OneAtATime.Release();
        }
    }

    static async Task<string> CreateDatabaseAloneAsync(string coordinatorUrl)
    {
        var coordinator = new NpgsqlConnectionStringBuilder(coordinatorUrl);
        var name = "etl_test_" + Guid.NewGuid().ToString("N")[..12];
        var workers = new List<(string Host, int Port)>();
        await using (var connection = new NpgsqlConnection(coordinator.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT nodename, nodeport FROM pg_dist_node WHERE groupid <> 0 ORDER BY nodeid", connection);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                workers.Add((reader.GetString(0), reader.GetInt32(1)));
            }
        }
        // Citus does not create databases on the workers (citus.enable_create_database_propagation is off), and its
        // metadata is per database: each node gets the database and the extension, then the coordinator its workers.
        foreach (var (host, port) in workers.Prepend((coordinator.Host!, coordinator.Port)))
        {
            var node = new NpgsqlConnectionStringBuilder(coordinator.ConnectionString) { Host = host, Port = port, Pooling = false };
            await ExecuteAsync(node.ConnectionString, $"CREATE DATABASE {name}");
            node.Database = name;
            await ExecuteAsync(node.ConnectionString, $"""
                CREATE EXTENSION citus;
                INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES (0, '{coordinator.Username}', 'password={coordinator.Password}');
                """);
        }
        var database = new NpgsqlConnectionStringBuilder(coordinator.ConnectionString) { Database = name, Pooling = false };
        await ExecuteAsync(database.ConnectionString, $"SELECT citus_set_coordinator_host('{coordinator.Host}', {coordinator.Port});" +
            string.Concat(workers.Select(w => $"SELECT citus_add_node('{w.Host}', {w.Port});")));
        return database.ConnectionString;
    }

    static async Task ExecuteAsync(string connectionString, string sql)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    static async Task<string> StartAsync(string? url)
    {
        if (!string.IsNullOrEmpty(url))
        {
            return Configuration.DatabaseTarget.Parse(url).ConnectionString!;
        }
        var directory = Directory.CreateTempSubdirectory("etl-test-citus-").FullName;
        var coordinator = await StartClusterAsync(directory);
        AppDomain.CurrentDomain.ProcessExit += (_, _) => StopCluster(directory);
        return coordinator;
    }

    static async Task<string> StartClusterAsync(string directory)
    {
        try
        {
            var output = await Shell.RunAsync("bash", Script, "start", directory);
            return Configuration.DatabaseTarget.Parse(output.Trim()).ConnectionString!;
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException(
                "No Citus cluster for the tests: set ETL_TEST_CITUS_URL to a coordinator (scripts/citus-cluster.sh start DIR prints one), " +
                $"or install Citus with ../shared/citus/install.sh (as root). {e.Message}", e);
        }
    }

    static string Script => Path.Combine(TestPostgres.RepositoryRoot(), "scripts", "citus-cluster.sh");

    static void StopCluster(string directory)
    {
        Shell.RunAsync("bash", Script, "stop", directory).GetAwaiter().GetResult();
        Directory.Delete(directory, recursive: true);
    }

    /// <summary>A cluster started for one test, with a database ready on it.</summary>
    public sealed class OwnCluster(string directory, string connectionString) : IAsyncDisposable
    {
        public string ConnectionString { get; } = connectionString;

        /// <summary>Stops a node (coordinator, worker1, worker2) as its server would stop: fast shutdown, connections cut.</summary>
        public Task StopNodeAsync(string node) =>
            Shell.RunAsync("bash", Path.Combine(TestPostgres.RepositoryRoot(), "scripts", "pg-cluster.sh"), "stop", Path.Combine(directory, node));

        public Task ResumeNodeAsync(string node) =>
            Shell.RunAsync("bash", Path.Combine(TestPostgres.RepositoryRoot(), "scripts", "pg-cluster.sh"), "resume", Path.Combine(directory, node));

        /// <summary>A connection string for the test's database on one node.</summary>
        public string NodeConnectionString(string node)
        {
            var url = File.ReadAllText(Path.Combine(directory, node, "url")).Trim();
            var builder = new NpgsqlConnectionStringBuilder(Configuration.DatabaseTarget.Parse(url).ConnectionString!)
            {
                Database = new NpgsqlConnectionStringBuilder(ConnectionString).Database,
                Pooling = false,
            };
            return builder.ConnectionString;
        }

        public ValueTask DisposeAsync()
        {
            StopCluster(directory);
            return ValueTask.CompletedTask;
        }
    }
}
