using ExperimentEtl.Model;
using ExperimentEtl.Storage.Postgres;
using Npgsql;

namespace ExperimentEtl.Storage.Citus;

/// <summary>
/// Storage on a Citus coordinator with workers: the data set distributed by user_id over the workers, its features
/// derived by the cluster. Runs, rejects and reads are the PostgreSQL store's (<see cref="PostgresStoreBase"/>).
/// </summary>
/// <remarks>
/// <para>
/// Each load writes a new generation (<see cref="Generations"/>), as on one PostgreSQL: here by one distributed
/// transaction, and published by updating the pointer in a second, coordinator-only transaction once the first has
/// committed on every node.
/// </para>
/// <para>
/// Why the publish is a separate transaction: Citus has no cross-node snapshot (a REPEATABLE READ reader still reads
/// each worker with its own snapshot), and the coordinator commits before the workers' COMMIT PREPARED
/// (src/backend/distributed/transaction/transaction_management.c, CoordinatedTransactionCallback), so a reader arriving
/// just after a one-transaction publish could find a worker still holding the old shards. Immutable generations
/// published after the fact avoid both.
/// </para>
/// <para>
/// Also different from the single-node load: no COPY … FREEZE (Citus ignores it for distributed tables; its gain was
/// autovacuum's, not the load's, so this was not measured); ANALYZE after the commit; advisory locks only on the
/// coordinator (they are per node).
/// </para>
/// </remarks>
public sealed class CitusEtlStore(NpgsqlDataSource dataSource, ChangeListSettings changes) : PostgresStoreBase(dataSource, changes)
{
    public const string ProviderName = "citus";

    public override string Provider => ProviderName;

    /// <summary>True when the database is a Citus coordinator: the extension is installed and has workers.</summary>
    public static async Task<bool> IsCoordinatorAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await PgSql.ScalarAsync(connection, "SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')", cancellationToken) is not true)
        {
            return false;
        }
        return (long)(await PgSql.ScalarAsync(connection, "SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary'", cancellationToken))! > 0;
    }

    /// <summary>
    /// Users, experiments and the per-user features distributed by user_id and colocated, so that joins and the
    /// features run on each worker's own shards; compounds and their usage are small and wanted by every join: reference
    /// tables; the data set's record stays on the coordinator, written with the rows and read with them.
    /// </summary>
    /// <remarks>
    /// A generation joins the previous one's colocation group while the workers are the same, so that a load can join
    /// the two data sets shard by shard to compute its change (<see cref="CitusChangeSql"/>). Once workers were added or
    /// removed, it starts a group of its own: its shards are placed over the workers there are now, so a new worker
    /// takes its share of the next data set without a rebalance. Four shards a
    /// worker, not Citus's default of 32 a table: each load creates (and the next one drops) every shard of six tables,
    /// which cost more than the rows at 100k experiments, and four still let each worker work on several at once.
    /// </remarks>
    /// <param name="colocateWith">The previous generation's users table to colocate with, or null for a group of its own.</param>
    internal static string CreateGeneration(long generation, string? colocateWith = null)
    {
        var schema = Generations.Schema(generation);
        var sql = $"CREATE SCHEMA {schema};";
        foreach (var table in DataSetTables.All)
        {
            sql += PgSchema.CreateTable(schema, table, withKey: table == DataSetTables.DataSet);
            if (table == DataSetTables.DataSet)
            {
                continue;
            }
            sql += table.DistributedBy is not { } column
                ? $"SELECT create_reference_table('{schema}.{table.Name}');"
                : table == DataSetTables.Users
                    ? colocateWith is null
                        ? $"SELECT create_distributed_table('{schema}.{table.Name}', '{column}', colocate_with => 'none', shard_count => {ShardCount});"
                        : $"SELECT create_distributed_table('{schema}.{table.Name}', '{column}', colocate_with => '{colocateWith}');"
                    : $"SELECT create_distributed_table('{schema}.{table.Name}', '{column}', colocate_with => '{schema}.users');";
        }
        return sql;
    }

    /// <summary>The previous generation's users table when the next generation can share its colocation group (same shard count as a new group would have).</summary>
    internal static string? ColocationOf(NpgsqlConnection connection, NpgsqlTransaction transaction, string previousSchema)
    {
        using var command = new NpgsqlCommand($"""
            SELECT shard_count = {ShardCount} FROM citus_tables WHERE table_name = '{previousSchema}.users'::regclass
            """, connection, transaction);
        return command.ExecuteScalar() is true ? $"{previousSchema}.users" : null;
    }

    const string ShardCount = "(SELECT greatest(4 * count(*), 4)::integer FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive)";

    /// <remarks>
    /// Citus requires a unique key of a distributed table to contain its distribution column, so experiments are keyed
    /// by (user_id, experiment_id). experiment_id alone stays unique across the file: the reader rejects a repeated one.
    /// </remarks>
    internal static string AddKeys(long generation, Func<DataSetTable, bool> which) => string.Concat(DataSetTables.All
        .Where(t => t != DataSetTables.DataSet && which(t))
        .Select(t => PgSchema.AddKey(Generations.Schema(generation), t,
            t.DistributedBy is { } column && !t.Key.Contains(column) ? [column, .. t.Key] : t.Key)));

    /// <summary>
    /// The features, computed by the cluster: each statement groups by user_id over colocated tables, so Citus runs it
    /// on every shard in parallel and the rows never leave the workers (compound_features gathers one row per compound
    /// and shard on the coordinator). Same rules as FeatureAccumulator: ties go to the lowest compound id, users without
    /// experiments count 0, and a compound listed twice in one experiment counts once (the reader stores each id once
    /// per experiment, so counting the unnested ids counts experiments).
    /// </summary>
    internal static string DeriveFeatures(long generation) => $"""
        SET LOCAL search_path = {Generations.Schema(generation)};
        INSERT INTO user_favorites (user_id, compound_id, experiments)
        SELECT user_id, compound_id, n FROM (
            SELECT user_id, compound_id, n, rank() OVER (PARTITION BY user_id ORDER BY n DESC) AS r
            FROM (SELECT e.user_id, c.compound_id, count(*)::integer AS n
                  FROM experiments e CROSS JOIN LATERAL unnest(e.compound_ids) AS c(compound_id)
                  GROUP BY e.user_id, c.compound_id) pairs) ranked
        WHERE r = 1;
        INSERT INTO user_features (user_id, experiment_count, fav_compound_id, fav_compound_name)
        SELECT u.user_id, COALESCE(e.n, 0), fav.compound_id, c.name
        FROM users u
        LEFT JOIN (SELECT user_id, count(*)::integer AS n FROM experiments GROUP BY user_id) e ON e.user_id = u.user_id
        LEFT JOIN (SELECT user_id, min(compound_id) AS compound_id FROM user_favorites GROUP BY user_id) fav ON fav.user_id = u.user_id
        LEFT JOIN compounds c ON c.compound_id = fav.compound_id;
        INSERT INTO compound_features (compound_id, experiments, users)
        SELECT compound_id, sum(n), count(*)
        FROM (SELECT e.user_id, c.compound_id, count(*) AS n
              FROM experiments e CROSS JOIN LATERAL unnest(e.compound_ids) AS c(compound_id)
              GROUP BY e.user_id, c.compound_id) pairs
        GROUP BY compound_id;
        SET LOCAL search_path = DEFAULT;
        """;

    /// <summary>An empty first generation, distributed.</summary>
    protected override Task<string> CreateFirstGenerationAsync(NpgsqlConnection connection, long generation, CancellationToken cancellationToken) =>
        Task.FromResult(CreateGeneration(generation) + AddKeys(generation, _ => true));

    /// <summary>Every worker answers. A worker that does not shows as success = false (it does not raise).</summary>
    protected override async Task<bool> AnswersAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await PgSql.ScalarAsync(connection, "SELECT bool_and(success) FROM run_command_on_workers('SELECT 1')", cancellationToken) is true;

    public override IDataSetLoad BeginLoad() => new CitusLoad(DataSource, ChangeLists);

    // Every load writes a new generation, never changed once published (no change-only reloads on Citus).
    protected override System.Data.IsolationLevel ReadIsolation => System.Data.IsolationLevel.ReadCommitted;
}
