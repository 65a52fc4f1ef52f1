using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using ExperimentEtl.Storage.Postgres;
using ExperimentEtl.Storage.Sqlite;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>A store constructed directly (not through the service) on a fresh database of one backend, its schema made.</summary>
public sealed class TestStore : IAsyncDisposable
{
    readonly NpgsqlDataSource? _dataSource;
    readonly string? _sqliteDirectory;

    TestStore(Backend backend, IEtlStore store, NpgsqlDataSource? dataSource, string? sqliteDirectory)
    {
        Backend = backend;
        Store = store;
        _dataSource = dataSource;
        _sqliteDirectory = sqliteDirectory;
    }

    public Backend Backend { get; }

    public IEtlStore Store { get; }

    public static async Task<TestStore> CreateAsync(Backend backend)
    {
        TestStore test;
        switch (backend)
        {
            case Backend.Postgres or Backend.Citus:
                var dataSource = NpgsqlDataSource.Create(await EtlAppFactory.CreateServerDatabaseAsync(backend));
                test = new TestStore(backend, new PostgresServerStore(dataSource), dataSource, null);
                break;
            case Backend.SqliteFile:
                var directory = Directory.CreateTempSubdirectory("etl-test-sqlite-").FullName;
                test = new TestStore(backend, new SqliteEtlStore(Path.Combine(directory, "experiments.db")), null, directory);
                break;
            default:
                test = new TestStore(backend, new SqliteEtlStore(null), null, null);
                break;
        }
        await test.Store.EnsureSchemaAsync(CancellationToken.None);
        return test;
    }

    /// <summary>Runs SQL on the database itself, outside the store: PostgreSQL's dialect or SQLite's, per backend.</summary>
    public async Task ExecuteAsync(string postgresSql, string sqliteSql)
    {
        if (_dataSource is not null)
        {
            await using var command = _dataSource.CreateCommand(postgresSql);
            await command.ExecuteNonQueryAsync();
            return;
        }
        await using var connection = (SqliteConnection)await Store.OpenReadConnectionAsync(CancellationToken.None);
        await using var sqlite = connection.CreateCommand();
        sqlite.CommandText = sqliteSql;
        await sqlite.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The data set's tables as the database's own catalog describes them: each table's columns in order, with whether
    /// they may be null. PostgreSQL and Citus: the current generation's schema; SQLite: every table but runs and rejects.
    /// </summary>
    public async Task<SortedDictionary<string, List<(string Column, bool Nullable)>>> ReadCatalogAsync()
    {
        var tables = new SortedDictionary<string, List<(string, bool)>>(StringComparer.Ordinal);
        if (_dataSource is not null)
        {
            await using var command = _dataSource.CreateCommand("""
                SELECT table_name, column_name, is_nullable = 'YES' FROM information_schema.columns
                WHERE table_schema = (SELECT 'etl_gen_' || generation FROM data_generation)
                ORDER BY table_name, ordinal_position
                """);
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                Add(tables, reader.GetString(0), reader.GetString(1), reader.GetBoolean(2));
            }
            return tables;
        }
        await using var connection = (SqliteConnection)await Store.OpenReadConnectionAsync(CancellationToken.None);
        await using var sqlite = connection.CreateCommand();
        // A key column of a rowid table (INTEGER PRIMARY KEY) is never null, though SQLite reports no NOT NULL on it.
        sqlite.CommandText = """
            SELECT m.name, c.name, c."notnull" = 0 AND c.pk = 0
            FROM sqlite_master m JOIN pragma_table_info(m.name) c
            WHERE m.type = 'table' AND m.name NOT IN ('runs', 'rejects', 'load_history', 'change_users', 'change_compounds', 'change_experiments')
            ORDER BY m.name, c.cid
            """;
        await using var rows = await sqlite.ExecuteReaderAsync();
        while (await rows.ReadAsync())
        {
            Add(tables, rows.GetString(0), rows.GetString(1), rows.GetBoolean(2));
        }
        return tables;
    }

    static void Add(SortedDictionary<string, List<(string, bool)>> tables, string table, string column, bool nullable)
    {
        if (!tables.TryGetValue(table, out var columns))
        {
            tables[table] = columns = [];
        }
        columns.Add((column, nullable));
    }

    /// <summary>
    /// Loads a small data set as the pipeline does (users, compounds, experiments, then the features and the commit):
    /// users 1..<paramref name="users"/>, named "<paramref name="tag"/> n", each with one experiment on compound 10.
    /// </summary>
    public static RunRecord Load(IDataSetLoad load, string tag, int users)
    {
        using var features = WriteTables(load, tag, users);
        return Commit(load, features);
    }

    /// <summary>The tables of <see cref="Load"/>, not committed; dispose what it returns after the commit.</summary>
    public static IFeatureAccumulator WriteTables(IDataSetLoad load, string tag, int users)
    {
        IFeatureAccumulator features = load.DerivesFeatures ? new CountingAccumulator() : new FeatureAccumulator();
        Write(load.OpenUsers(), Enumerable.Range(1, users).Select(id =>
        {
            var user = new UserRow(id, $"{tag} {id}", $"user{id}@example.com", new DateOnly(2024, 1, 1));
            features.AddUser(user);
            return user;
        }));
        Write(load.OpenCompounds(), [new CompoundRow(10, $"{tag} compound", "C"), new CompoundRow(11, "Other", "O")]);
        features.StartExperiments(11);
        Write(load.OpenExperiments(), Enumerable.Range(1, users).Select(id =>
        {
            var experiment = new ExperimentRow(id, id, [10], 5);
            features.AddExperiment(experiment);
            return experiment;
        }));
        return features;
    }

    public static RunRecord Commit(IDataSetLoad load, IFeatureAccumulator features)
    {
        var run = RunRecord.Queue(DateTimeOffset.UtcNow, RunMode.Strict, RunSource.DataFolder) with { Status = RunStatus.Succeeded };
        return load.Commit(features.Build(compoundCount: 2), run, [], TimeProvider.System, CancellationToken.None);
    }

    static void Write<TRow>(IRowWriter<TRow> writer, IEnumerable<TRow> rows)
    {
        using (writer)
        {
            foreach (var row in rows)
            {
                writer.Write(row);
            }
            writer.Complete();
        }
    }

    public async ValueTask DisposeAsync()
    {
        (Store as IDisposable)?.Dispose();
        if (_dataSource is not null)
        {
            await _dataSource.DisposeAsync();
        }
        if (_sqliteDirectory is not null)
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(_sqliteDirectory, recursive: true);
        }
    }
}
