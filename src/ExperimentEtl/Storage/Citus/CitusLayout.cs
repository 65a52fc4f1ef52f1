using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using ExperimentEtl.Storage.Postgres;
using Npgsql;

namespace ExperimentEtl.Storage.Citus;

/// <summary>
/// Everything the PostgreSQL store does differently when DATABASE_URL names a Citus coordinator with workers: the
/// schema, the loads and how readers pin one data set. <see cref="PostgresEtlStore"/> delegates to it; runs and rejects
/// are plain tables on the coordinator and stay with the store.
/// </summary>
/// <remarks>
/// <para>
/// Each load writes a new <em>generation</em>: a schema <c>etl_gen_N</c> holding the six data tables and the data set's
/// record, written by one distributed transaction and never changed afterwards. A one-row table on the coordinator,
/// <c>data_generation</c>, names the current one; a load publishes its generation by updating that row in a second,
/// coordinator-only transaction once the first has committed on every node. Readers pin the generation they found and
/// read it through <c>search_path</c>, so the read model's SQL is the single-node SQL.
/// </para>
/// <para>
/// Why not the single-node swap of <c>_next</c> tables: Citus has no cross-node snapshot (a REPEATABLE READ reader still
/// reads each worker with its own snapshot), and the coordinator commits before the workers' COMMIT PREPARED
/// (src/backend/distributed/transaction/transaction_management.c, CoordinatedTransactionCallback), so a reader arriving
/// just after the swap could find a worker still holding the old shards. Immutable generations published after the
/// fact avoid both. The swap would also need ALTER INDEX … RENAME: "renaming constraints belonging to distributed
/// tables is currently unsupported" (ErrorIfUnsupportedRenameStmt; seen on 13.2.2).
/// </para>
/// <para>
/// Also different from the single-node load: no COPY … FREEZE (Citus ignores it for distributed tables; its gain was
/// autovacuum's, not the load's, so this was not measured); ANALYZE after the commit; advisory locks only on the
/// coordinator (they are per node).
/// </para>
/// </remarks>
sealed partial class CitusLayout(NpgsqlDataSource dataSource)
{
    public const string Provider = "citus";
    const string GenerationPrefix = "etl_gen_";
    // Advisory locks are per node: every process takes them on the coordinator, the only node the service talks to.
    // The (int, int) form, class and generation, never meets the store's bigint keys.
    const int GenerationLockClass = 0x45544C03;
    const int MaxPinAttempts = 100;

    // A reader's transaction, pinned to a generation when its connection was opened (see OpenReadConnectionAsync).
    static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlTransaction> Pinned = new();

    /// <summary>A Citus layout when the database is a coordinator (the extension is installed and has workers), else null.</summary>
    public static async Task<CitusLayout?> DetectAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand("SELECT EXISTS (SELECT FROM pg_extension WHERE extname = 'citus')", connection))
        {
            if (await command.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return null;
            }
        }
        await using var workers = new NpgsqlCommand("SELECT count(*) FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary'", connection);
        return (long)(await workers.ExecuteScalarAsync(cancellationToken))! > 0 ? new CitusLayout(dataSource) : null;
    }

    static string Schema(long generation) => GenerationPrefix + generation;

    /// <summary>
    /// Users, experiments and the per-user features distributed by user_id and colocated, so that joins and the
    /// features run on each worker's own shards; compounds and their usage are small and wanted by every join: reference tables.
    /// </summary>
    /// <remarks>
    /// Citus requires a unique key of a distributed table to contain its distribution column, so experiments are keyed
    /// by (user_id, experiment_id). experiment_id alone stays unique across the file: the reader rejects a repeated one.
    /// </remarks>
    static readonly (string Name, string Columns, string Key, string? DistributedBy)[] Tables =
    [
        ("users", "user_id integer NOT NULL, name text NOT NULL, email text NOT NULL, signup_date date NOT NULL", "user_id", "user_id"),
        ("experiments", "experiment_id integer NOT NULL, user_id integer NOT NULL, compound_ids integer[] NOT NULL, run_time integer NOT NULL",
            "user_id, experiment_id", "user_id"),
        ("user_features", "user_id integer NOT NULL, experiment_count integer NOT NULL, fav_compound_id integer, fav_compound_name text", "user_id", "user_id"),
        ("user_favorites", "user_id integer NOT NULL, compound_id integer NOT NULL, experiments integer NOT NULL", "user_id, compound_id", "user_id"),
        ("compounds", "compound_id integer NOT NULL, name text NOT NULL, structure text NOT NULL", "compound_id", null),
        ("compound_features", "compound_id integer NOT NULL, experiments bigint NOT NULL, users integer NOT NULL", "compound_id", null),
    ];

    /// <summary>The generation's schema and empty tables, keys not yet added (they are built after the rows are in).</summary>
    /// <remarks>
    /// Each generation is a colocation group of its own: its shards are placed over the workers there are now, so a
    /// worker added since the previous load takes its share of the next data set without a rebalance. Four shards a
    /// worker, not Citus's default of 32 a table: each load creates (and the next one drops) every shard of six tables,
    /// which cost more than the rows at 100k experiments, and four still let each worker work on several at once.
    /// </remarks>
    static string CreateGeneration(long generation)
    {
        var schema = Schema(generation);
        var sql = $"CREATE SCHEMA {schema};";
        foreach (var (name, columns, _, distributedBy) in Tables)
        {
            sql += $"CREATE TABLE {schema}.{name} ({columns});";
            sql += distributedBy is null
                ? $"SELECT create_reference_table('{schema}.{name}');"
                : name == "users"
                    ? $"SELECT create_distributed_table('{schema}.{name}', '{distributedBy}', colocate_with => 'none', shard_count => {ShardCount});"
                    : $"SELECT create_distributed_table('{schema}.{name}', '{distributedBy}', colocate_with => '{schema}.users');";
        }
        // The data set's record: local on the coordinator, written with the rows, read with them.
        sql += $"""
            CREATE TABLE {schema}.dataset (
                id integer PRIMARY KEY CHECK (id = 1), run_id uuid, loaded_at timestamptz NOT NULL,
                users bigint NOT NULL, experiments bigint NOT NULL, compounds bigint NOT NULL, active_users bigint NOT NULL);
            """;
        return sql;
    }

    const string ShardCount = "(SELECT greatest(4 * count(*), 4)::integer FROM pg_dist_node WHERE groupid <> 0 AND noderole = 'primary' AND isactive)";

    static string AddKeys(long generation, Func<string, bool> which) => string.Concat(Tables.Where(t => which(t.Name))
        .Select(t => $"ALTER TABLE {Schema(generation)}.{t.Name} ADD CONSTRAINT {t.Name}_pkey PRIMARY KEY ({t.Key});"));

    static bool IsLoaded(string table) => table is "users" or "experiments" or "compounds";

    /// <summary>
    /// The features, computed by the cluster: each statement groups by user_id over colocated tables, so Citus runs it
    /// on every shard in parallel and the rows never leave the workers (compound_features gathers one row per compound
    /// and shard on the coordinator). Same rules as FeatureAccumulator: ties go to the lowest compound id, users without
    /// experiments count 0, and a compound listed twice in one experiment counts once (the reader stores each id once
    /// per experiment, so counting the unnested ids counts experiments).
    /// </summary>
    static string DeriveFeatures(long generation) => $"""
        SET LOCAL search_path = {Schema(generation)};
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

    /// <summary>The coordinator's own tables, and generation 0 (empty) when there is none yet.</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({PostgresEtlStore.SchemaLockKey})", cancellationToken);
        await ExecuteAsync(connection, PostgresEtlStore.FixedTables + """
            CREATE TABLE IF NOT EXISTS data_generation (id integer PRIMARY KEY CHECK (id = 1), generation bigint NOT NULL);
            CREATE SEQUENCE IF NOT EXISTS data_generation_seq;
            """, cancellationToken);
        if (await ScalarAsync(connection, "SELECT generation FROM data_generation", cancellationToken) is null)
        {
            var generation = (long)(await ScalarAsync(connection, "SELECT nextval('data_generation_seq')", cancellationToken))!;
            await ExecuteAsync(connection, CreateGeneration(generation) + AddKeys(generation, _ => true) +
                $"INSERT INTO data_generation (id, generation) VALUES (1, {generation});", cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The coordinator's tables are there and every worker answers.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using (var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)", connection))
        {
            string[] tables = ["runs", "rejects", "data_generation"];
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables });
            if ((long)(await command.ExecuteScalarAsync(cancellationToken))! != tables.Length)
            {
                return false;
            }
        }
        // A worker that does not answer shows as success = false (it does not raise).
        await using var workers = new NpgsqlCommand("SELECT bool_and(success) FROM run_command_on_workers('SELECT 1')", connection);
        return await workers.ExecuteScalarAsync(cancellationToken) is true;
    }

    /// <summary>
    /// A connection whose transaction is pinned to the current generation: every statement on it, with or without
    /// <see cref="BeginConsistentReadAsync"/>, reads that generation's tables, which never change.
    /// </summary>
    public async Task<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            Pinned.Add(connection, await PinAsync(connection, cancellationToken));
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The pinned transaction of a connection from <see cref="OpenReadConnectionAsync"/>; one is pinned now for any other.</summary>
    public static async Task<DbTransaction> BeginConsistentReadAsync(DbConnection connection, CancellationToken cancellationToken)
    {
        var npgsql = (NpgsqlConnection)connection;
        if (Pinned.TryGetValue(npgsql, out var transaction))
        {
            Pinned.Remove(npgsql);
            return transaction;
        }
        return await PinAsync(npgsql, cancellationToken);
    }

    /// <remarks>
    /// READ COMMITTED: read the current generation, take its lock shared, read the current generation again. When it
    /// is unchanged, the generation cannot be dropped until this transaction ends: a load drops an old generation
    /// only after publishing its successor and only while it can take the lock exclusively.
    /// </remarks>
    static async Task<NpgsqlTransaction> PinAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        var transaction = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, cancellationToken);
        try
        {
            var generation = await CurrentAsync(connection, cancellationToken);
            for (var attempt = 0; attempt < MaxPinAttempts; attempt++)
            {
                await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock_shared({GenerationLockClass}, {generation})", cancellationToken);
                var current = await CurrentAsync(connection, cancellationToken);
                if (current == generation)
                {
                    await ExecuteAsync(connection, $"SET LOCAL search_path = {Schema(generation)}, public", cancellationToken);
                    return transaction;
                }
                generation = current; // A load published meanwhile; the old generation's lock is released with the transaction.
            }
            throw new TimeoutException($"The data set changed {MaxPinAttempts} times while a reader tried to open it.");
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    static async Task<int> CurrentAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        (int)(long)(await ScalarAsync(connection, "SELECT generation FROM data_generation", cancellationToken)
                     ?? throw new InvalidOperationException("The schema is not in place (GET /setup_test_db creates it)."));

    /// <summary>
    /// Drops the generations other than the current one that no reader has pinned (best effort: one still pinned is
    /// dropped by a later load). Also removes a generation that a load wrote but did not publish (its process died in between).
    /// </summary>
    async Task DropOldGenerationsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        var current = await CurrentAsync(connection, cancellationToken);
        var old = new List<long>();
        await using (var command = new NpgsqlCommand(
            $"SELECT substr(nspname, {GenerationPrefix.Length + 1})::bigint FROM pg_namespace WHERE nspname ~ '^{GenerationPrefix}[0-9]+$'", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetInt64(0) != current)
                {
                    old.Add(reader.GetInt64(0));
                }
            }
        }
        foreach (var generation in old)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            if (await ScalarAsync(connection, $"SELECT pg_try_advisory_xact_lock({GenerationLockClass}, {generation})", cancellationToken) is true)
            {
                await ExecuteAsync(connection, $"DROP SCHEMA IF EXISTS {Schema(generation)} CASCADE", cancellationToken, unbounded: true);
            }
            await transaction.CommitAsync(cancellationToken);
        }
    }

    public IDataSetLoad BeginLoad() => new CitusLoad(this, dataSource);

    /// <summary>
    /// A worker's failure reaches us with the worker's own message (at its shutdown: "57P01: terminating connection due to
    /// administrator command"); Citus names the worker only in the error's context ("while executing command on
    /// host:port"). The run's message, and so the problem answer, should name it.
    /// </summary>
    static Exception NamingTheNode(Exception e)
    {
        var failure = e as PostgresException ?? e.InnerException as PostgresException;
        if (failure is null)
        {
            return e;
        }
        var node = NodeInContext().Match($"{failure.Where}\n{failure.Detail}");
        return node.Success && !failure.MessageText.Contains(node.Groups[1].Value, StringComparison.Ordinal)
            ? new NpgsqlException($"{failure.SqlState}: {failure.MessageText} (on the node {node.Groups[1].Value})", e)
            : e;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"on ([^\s:]+:[0-9]+)")]
    private static partial System.Text.RegularExpressions.Regex NodeInContext();

    /// <summary>A table writer whose failures name the node that failed.</summary>
    sealed class NodeNamingWriter<TRow>(IRowWriter<TRow> inner) : IRowWriter<TRow>
    {
        public void Write(in TRow row)
        {
            try
            {
                inner.Write(row);
            }
            catch (NpgsqlException e) when (NamingTheNode(e) is var named && named != e)
            {
                throw named;
            }
        }

        public void Complete()
        {
            try
            {
                inner.Complete();
            }
            catch (NpgsqlException e) when (NamingTheNode(e) is var named && named != e)
            {
                throw named;
            }
        }

        public void Dispose() => inner.Dispose();
    }

    /// <param name="unbounded">
    /// No command timeout (Npgsql's default is 30 s): for a load's statements, which take minutes at 10M experiments and
    /// are stopped by cancelling the run instead.
    /// </param>
    static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken, bool unbounded = false)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (unbounded)
        {
            command.CommandTimeout = 0;
        }
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    static void Execute(NpgsqlConnection connection, string sql, bool unbounded = false) =>
        ExecuteAsync(connection, sql, CancellationToken.None, unbounded).GetAwaiter().GetResult();

    /// <summary>
    /// One load: a coordinator-only transaction that holds the load lock and, at the end, publishes; and the distributed
    /// transaction that writes the new generation. Until the publish nothing points to the generation, and a load that
    /// does not reach it rolls the generation back on every node (or, if the process dies between the two commits, the
    /// next load drops it).
    /// </summary>
    sealed class CitusLoad : IDataSetLoad
    {
        readonly CitusLayout _layout;
        readonly NpgsqlConnection _publish;
        readonly NpgsqlTransaction _publishTransaction;
        readonly NpgsqlConnection _load;
        readonly NpgsqlTransaction _loadTransaction;
        readonly long _generation;
        bool _disposed;

        public CitusLoad(CitusLayout layout, NpgsqlDataSource dataSource)
        {
            _layout = layout;
            _publish = dataSource.OpenConnection();
            _publishTransaction = _publish.BeginTransaction();
            try
            {
                PostgresEtlStore.TakeLoadLock(_publish, _publishTransaction);
                layout.DropOldGenerationsAsync(CancellationToken.None).GetAwaiter().GetResult();
                _generation = (long)ScalarAsync(_publish, "SELECT nextval('data_generation_seq')", CancellationToken.None).GetAwaiter().GetResult()!;
                _load = dataSource.OpenConnection();
                _loadTransaction = _load.BeginTransaction();
                // The coordinator stops the load's statements (and so the workers') once the process is gone.
                PostgresEtlStore.WatchForDeadClient(_load, _loadTransaction);
                Execute(_load, CreateGeneration(_generation), unbounded: true);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public bool DerivesFeatures => true;

        string Table(string name) => $"{Schema(_generation)}.{name}";

        // No FREEZE: Citus ignores it for distributed tables.
        public IRowWriter<Csv.UserRow> OpenUsers() => new NodeNamingWriter<Csv.UserRow>(new PostgresEtlStore.CopyWriter<Csv.UserRow>(_load,
            $"COPY {Table("users")} {LoadedRows.UserColumns} FROM STDIN (FORMAT BINARY)", 4, LoadedRows.WriteUser));

        public IRowWriter<Csv.CompoundRow> OpenCompounds() => new NodeNamingWriter<Csv.CompoundRow>(new PostgresEtlStore.CopyWriter<Csv.CompoundRow>(_load,
            $"COPY {Table("compounds")} {LoadedRows.CompoundColumns} FROM STDIN (FORMAT BINARY)", 3, LoadedRows.WriteCompound));

        public IRowWriter<Csv.ExperimentRow> OpenExperiments() => new NodeNamingWriter<Csv.ExperimentRow>(new PostgresEtlStore.CopyWriter<Csv.ExperimentRow>(_load,
            $"COPY {Table("experiments")} {LoadedRows.ExperimentColumns} FROM STDIN (FORMAT BINARY)", 4, LoadedRows.WriteExperiment));

        public Pipeline.RunRecord Commit(Pipeline.DataSetFeatures features, Pipeline.RunRecord run, IReadOnlyList<Csv.RejectedRow> rejects,
            TimeProvider clock, CancellationToken cancellationToken)
        {
            try
            {
                return Publish(features, run, rejects, clock, cancellationToken);
            }
            catch (NpgsqlException e) when (NamingTheNode(e) is var named && named != e)
            {
                throw named;
            }
        }

        Pipeline.RunRecord Publish(Pipeline.DataSetFeatures features, Pipeline.RunRecord run, IReadOnlyList<Csv.RejectedRow> rejects,
            TimeProvider clock, CancellationToken cancellationToken)
        {
            ExecuteAsync(_load, AddKeys(_generation, IsLoaded) + DeriveFeatures(_generation) + AddKeys(_generation, t => !IsLoaded(t)),
                cancellationToken, unbounded: true).GetAwaiter().GetResult();
            // loaded_at is set again at the publish, in the same transaction as the pointer.
            using (var command = new NpgsqlCommand($"""
                INSERT INTO {Table("dataset")} (id, run_id, loaded_at, users, experiments, compounds, active_users)
                SELECT 1, $1, $2, $3, $4, $5, count(*) FROM {Table("user_features")} WHERE experiment_count > 0
                """, _load))
            {
                command.CommandTimeout = 0;
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.RunId });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = clock.GetUtcNow() });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.UserCount });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.ExperimentCount });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.CompoundCount });
                command.ExecuteNonQuery();
            }
            _loadTransaction.Commit();
            // After the commit: in the loading transaction, ANALYZE of a reference table just copied into fails ("cannot
            // execute command because a local execution has accessed a placement in the transaction"). The tables the
            // reads join; nothing reads experiments after the load (as on one PostgreSQL).
            ExecuteAsync(_load, "ANALYZE " + string.Join(", ", Tables.Where(t => t.Name != "experiments").Select(t => Table(t.Name))),
                cancellationToken, unbounded: true).GetAwaiter().GetResult();

            PostgresEtlStore.WriteRejects(_publish, run.RunId, rejects);
            // The end is now, once the generation is on every node: the record and the data set say the same time.
            run = run with { FinishedAt = clock.GetUtcNow() };
            using (var command = new NpgsqlCommand($"UPDATE {Table("dataset")} SET loaded_at = $1", _publish))
            {
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = run.FinishedAt.Value });
                command.ExecuteNonQuery();
            }
            Execute(_publish, $"UPDATE data_generation SET generation = {_generation}");
            PostgresEtlStore.SaveRunIn(_publish, run);
            // Cancelled until here, the written generation is never published (the next load drops it).
            cancellationToken.ThrowIfCancellationRequested();
            _publishTransaction.Commit();
            try
            {
                _layout.DropOldGenerationsAsync(CancellationToken.None).GetAwaiter().GetResult();
            }
            catch (NpgsqlException)
            {
                // Published already: the next load drops them.
            }
            return run;
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _loadTransaction?.Dispose();
            _load?.Dispose();
            _publishTransaction.Dispose();
            _publish.Dispose();
        }
    }
}
