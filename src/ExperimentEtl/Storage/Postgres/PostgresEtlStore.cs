using ExperimentEtl.Csv;
using ExperimentEtl.Pipeline;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// PostgreSQL storage. A load builds the new data set in fresh tables through binary COPY, adds keys and indexes
/// once the rows are in, and swaps the tables in at commit: readers keep reading the previous data set meanwhile.
/// On a Citus coordinator (found by <see cref="EnsureSchemaAsync"/>) the schema, loads and read snapshots are
/// <see cref="Citus.CitusLayout"/>'s; runs and rejects stay here.
/// </summary>
public sealed partial class PostgresEtlStore(NpgsqlDataSource dataSource) : IEtlStore
{
    // Advisory lock keys: arbitrary constants that name this application's locks.
    internal const long SchemaLockKey = 0x45544C_0001;
    internal const long LoadLockKey = 0x45544C_0002;

    static readonly TimeSpan LoadLockPatience = TimeSpan.FromMilliseconds(500);
    static readonly TimeSpan SwapLockTimeout = TimeSpan.FromSeconds(1);
    static readonly TimeSpan SwapRetryPause = TimeSpan.FromMilliseconds(200);
    static readonly TimeSpan MaxSwapWait = TimeSpan.FromMinutes(10);

    /// <summary>The tables a load replaces, with what is added only after the bulk copy.</summary>
    sealed record SwappedTable(string Name, string Columns, string PrimaryKey);

    /// <summary>Written in the load's own transaction, in this order.</summary>
    static readonly SwappedTable[] LoadedTables =
    [
        new("users", "user_id integer NOT NULL, name text NOT NULL, email text NOT NULL, signup_date date NOT NULL", "user_id"),
        new("compounds", "compound_id integer NOT NULL, name text NOT NULL, structure text NOT NULL", "compound_id"),
        // No index on user_id: nothing reads experiments by user, and building it took 8 s of a 10M-row load.
        new("experiments", "experiment_id integer NOT NULL, user_id integer NOT NULL, compound_ids integer[] NOT NULL, run_time integer NOT NULL",
            "experiment_id"),
    ];

    /// <summary>Written on a second connection while the first builds the loaded tables' keys.</summary>
    static readonly SwappedTable[] FeatureTables =
    [
        // The favourite's name is copied here so that the report reads two tables, not three: at 1M users the join
        // with compounds took more than half of the report's query time.
        new("user_features", "user_id integer NOT NULL, experiment_count integer NOT NULL, fav_compound_id integer, fav_compound_name text", "user_id"),
        new("user_favorites", "user_id integer NOT NULL, compound_id integer NOT NULL, experiments integer NOT NULL", "user_id, compound_id"),
        new("compound_features", "compound_id integer NOT NULL, experiments bigint NOT NULL, users integer NOT NULL", "compound_id"),
    ];

    static readonly SwappedTable[] SwappedTables = [.. LoadedTables, .. FeatureTables];

    internal const string FixedTables = """
        CREATE TABLE IF NOT EXISTS dataset (
            id integer PRIMARY KEY CHECK (id = 1), run_id uuid, loaded_at timestamptz NOT NULL,
            users bigint NOT NULL, experiments bigint NOT NULL, compounds bigint NOT NULL, active_users bigint NOT NULL);
        CREATE TABLE IF NOT EXISTS runs (
            run_id uuid PRIMARY KEY, status text NOT NULL, mode text NOT NULL, source text NOT NULL,
            started_at timestamptz NOT NULL, finished_at timestamptz, updated_at timestamptz NOT NULL,
            files jsonb NOT NULL, error_count bigint NOT NULL, errors jsonb NOT NULL, rejected_count bigint NOT NULL,
            message text, cancel_requested boolean NOT NULL DEFAULT false);
        CREATE TABLE IF NOT EXISTS rejects (
            run_id uuid NOT NULL, seq bigint NOT NULL, file text NOT NULL, line bigint NOT NULL, raw text NOT NULL, reason text NOT NULL,
            PRIMARY KEY (run_id, seq));
        """;

    // The report is read in one consistent transaction: the summary, then the users. Repeating the summary's
    // columns on every user row (one statement) sent 80 more bytes a user and took longer at 1M users.
    const string ReportSummaryQuery = "SELECT users, experiments, compounds, active_users, run_id, loaded_at FROM dataset";

    const string ReportUsersQuery = """
        SELECT u.user_id, u.name, u.email, f.experiment_count, f.fav_compound_name, f.fav_compound_id
        FROM users u
        JOIN user_features f ON f.user_id = u.user_id
        ORDER BY u.user_id
        """;

    /// <summary>Brings a database written by an earlier version up to date; runs under the schema lock.</summary>
    const string Migrations = """
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM information_schema.columns
                           WHERE table_schema = current_schema() AND table_name = 'user_features' AND column_name = 'fav_compound_name') THEN
                ALTER TABLE user_features ADD COLUMN fav_compound_name text;
                UPDATE user_features f SET fav_compound_name = c.name FROM compounds c WHERE c.compound_id = f.fav_compound_id;
            END IF;
        END $$;
        """;

    static readonly string[] TableNames =
        ["users", "compounds", "experiments", "user_features", "user_favorites", "compound_features", "dataset", "runs", "rejects"];

    // Set once EnsureSchemaAsync has found a Citus coordinator.
    volatile Citus.CitusLayout? _citus;

    public string Provider => _citus is null ? "postgresql" : Citus.CitusLayout.Provider;

    public string MatchesIgnoringCase(string column, string parameter) => $@"lower({column}) LIKE {parameter} ESCAPE '\'";

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        _citus ??= await Citus.CitusLayout.DetectAsync(dataSource, cancellationToken);
        if (_citus is { } citus)
        {
            await citus.EnsureSchemaAsync(cancellationToken);
            return;
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // Replicas starting together would otherwise race on CREATE TABLE IF NOT EXISTS.
        await ExecuteAsync(connection, transaction, $"SELECT pg_advisory_xact_lock({SchemaLockKey})", cancellationToken);
        foreach (var table in SwappedTables)
        {
            var sql = $"CREATE TABLE IF NOT EXISTS {table.Name} ({table.Columns}, CONSTRAINT {table.Name}_pkey PRIMARY KEY ({table.PrimaryKey}));";
            await ExecuteAsync(connection, transaction, sql, cancellationToken);
        }
        await ExecuteAsync(connection, transaction, FixedTables, cancellationToken);
        await ExecuteAsync(connection, transaction, Migrations, cancellationToken);
        await transaction.CommitAsync(cancellationToken);
    }

    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            if (_citus is { } citus)
            {
                return await citus.IsReadyAsync(cancellationToken);
            }
            await using var command = dataSource.CreateCommand(
                "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)");
            command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = TableNames });
            return (long)(await command.ExecuteScalarAsync(cancellationToken))! == TableNames.Length;
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            return false;
        }
    }

    public IDataSetLoad BeginLoad()
    {
        if (_citus is { } citus)
        {
            return citus.BeginLoad();
        }
        var connection = dataSource.OpenConnection();
        try
        {
            return new PostgresLoad(dataSource, connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    public async Task<System.Data.Common.DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) =>
        _citus is { } citus ? await citus.OpenReadConnectionAsync(cancellationToken) : await dataSource.OpenConnectionAsync(cancellationToken);

    /// <remarks>
    /// A repeatable-read snapshot alone is not enough: a load swaps in new tables (DROP and RENAME), which a later
    /// statement of an older snapshot would find, rows and all (COPY FREEZE). So the transaction first locks the
    /// tables it reads, in the order the swap takes them (no deadlock): it either waits for a swap to commit or makes
    /// the swap wait. LOCK takes no snapshot; the first query after it does.
    /// </remarks>
    public async Task<System.Data.Common.DbTransaction> BeginConsistentReadAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken)
    {
        if (_citus is not null)
        {
            return await Citus.CitusLayout.BeginConsistentReadAsync(connection, cancellationToken);
        }
        var npgsql = (NpgsqlConnection)connection;
        var transaction = await npgsql.BeginTransactionAsync(System.Data.IsolationLevel.RepeatableRead, cancellationToken);
        try
        {
            await ExecuteAsync(npgsql, transaction, ReadTablesLock, cancellationToken);
            return transaction;
        }
        catch
        {
            await transaction.DisposeAsync();
            throw;
        }
    }

    static readonly string ReadTablesLock = "LOCK TABLE " +
        string.Join(", ", SwappedTables.Where(t => t.Name != "experiments").Select(t => t.Name)) + " IN ACCESS SHARE MODE";

    public async Task<IReportSnapshot> OpenReportAsync(CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)await OpenReadConnectionAsync(cancellationToken);
        try
        {
            var transaction = (NpgsqlTransaction)await BeginConsistentReadAsync(connection, cancellationToken);
            ReportSummary? summary = null;
            await using (var command = new NpgsqlCommand(ReportSummaryQuery, connection, transaction))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    summary = new ReportSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3),
                        reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.GetFieldValue<DateTimeOffset>(5));
                }
            }
            var users = summary is null ? null : await new NpgsqlCommand(ReportUsersQuery, connection, transaction).ExecuteReaderAsync(cancellationToken);
            return ReportSnapshot.FromTransaction(connection, transaction, summary, users,
                r => new UserReport(r.GetInt32(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetInt32(5)));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// Makes the server check every second, even in the middle of a long statement (a key build), that the client is
    /// still there. Without it, a process killed while PostgreSQL built a key kept the load lock, and its run looked
    /// alive, until the build ended. (PostgreSQL 14 and later; older servers check when they next talk to the client.)
    /// </summary>
    internal static void WatchForDeadClient(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        if (connection.PostgreSqlVersion.Major >= 14)
        {
            Execute(connection, transaction, "SET LOCAL client_connection_check_interval = 1000");
        }
    }

    /// <summary>
    /// Takes the load lock for the transaction, watching for a dead client; throws <see cref="RunInProgressException"/>
    /// when another load holds it.
    /// </summary>
    internal static void TakeLoadLock(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        WatchForDeadClient(connection, transaction);
        try
        {
            // Waits a moment rather than failing at once: a replica checking for abandoned runs holds the lock for
            // a few milliseconds at times, which must not turn a start into a conflict.
            Execute(connection, transaction,
                $"SET LOCAL lock_timeout = {(int)LoadLockPatience.TotalMilliseconds}; SELECT pg_advisory_xact_lock({LoadLockKey}); SET LOCAL lock_timeout = DEFAULT;");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new RunInProgressException();
        }
    }

    static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <remarks>
    /// A load's statements (key builds, waits for locks) last as long as the data needs, minutes at 30M experiments:
    /// no command timeout stops them half-way; the run's cancellation does.
    /// </remarks>
    static void Execute(NpgsqlConnection connection, NpgsqlTransaction transaction, string sql, CancellationToken cancellationToken = default)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        using var cancel = cancellationToken.Register(command.Cancel);
        command.ExecuteNonQuery();
    }

    /// <remarks>
    /// Once the last experiment is sent, PostgreSQL builds the loaded tables' keys on this load's connection while the
    /// pipeline computes the features and a second connection writes and keys the feature tables: on two cores that
    /// overlap hid the 3–4 s the feature tables took after the experiments key at 10M experiments. The feature tables
    /// are committed by that second connection under their <c>_next</c> names, which nothing reads; only this load's
    /// commit swaps them in, and a load that does not commit drops them again.
    /// </remarks>
    sealed class PostgresLoad : IDataSetLoad
    {
        readonly NpgsqlDataSource _dataSource;
        readonly NpgsqlConnection _connection;
        readonly NpgsqlTransaction _transaction;
        // For the favourite's name in user_features. Filled by the compounds' writer thread, read after it has completed.
        readonly Dictionary<int, string> _compoundNames = [];
        NpgsqlCommand? _keysCommand;
        Task? _keys;
        System.Diagnostics.Activity? _keysSpan;
        bool _featureTablesCommitted;
        bool _committed;
        bool _disposed;

        public PostgresLoad(NpgsqlDataSource dataSource, NpgsqlConnection connection)
        {
            _dataSource = dataSource;
            _connection = connection;
            _transaction = connection.BeginTransaction();
            try
            {
                TakeLoadLock(connection, _transaction);
            }
            catch
            {
                _transaction.Dispose();
                throw;
            }
            Execute(connection, _transaction, CreateNextTables(LoadedTables));
        }

        // Rows are copied WITH FREEZE into tables created in the same transaction: they arrive frozen and all-visible,
        // at no measurable cost to the COPY, so autovacuum's pass a minute later scans 1 page of 92,000 (10M experiments)
        // instead of writing the whole table again. (While it analyses a table, a swap dropping that table waits up
        // to deadlock_timeout, 1 s, for it to give way.)
        static string CreateNextTables(IEnumerable<SwappedTable> tables) =>
            string.Concat(tables.Select(t => $"DROP TABLE IF EXISTS {t.Name}_next; CREATE TABLE {t.Name}_next ({t.Columns});"));

        static string AddKeys(IEnumerable<SwappedTable> tables) =>
            string.Concat(tables.Select(t => $"ALTER TABLE {t.Name}_next ADD CONSTRAINT {t.Name}_next_pkey PRIMARY KEY ({t.PrimaryKey});"));

        public IRowWriter<UserRow> OpenUsers() => new CopyWriter<UserRow>(_connection,
            $"COPY users_next {LoadedRows.UserColumns} FROM STDIN (FORMAT BINARY, FREEZE)", 4, LoadedRows.WriteUser);

        public IRowWriter<CompoundRow> OpenCompounds() => new CopyWriter<CompoundRow>(_connection,
            $"COPY compounds_next {LoadedRows.CompoundColumns} FROM STDIN (FORMAT BINARY, FREEZE)", 3,
            (copy, row) =>
            {
                _compoundNames[row.CompoundId] = row.Name;
                LoadedRows.WriteCompound(copy, row);
            });

        // Experiments are the last table written: once they are in, the keys can be built.
        public IRowWriter<ExperimentRow> OpenExperiments() => new CopyWriter<ExperimentRow>(_connection,
            $"COPY experiments_next {LoadedRows.ExperimentColumns} FROM STDIN (FORMAT BINARY, FREEZE)", 4, LoadedRows.WriteExperiment,
            StartKeys);

        void StartKeys()
        {
            // Fresh tables have no statistics: without them the report's join plans badly (1.2 s instead of 0.2 s at 100k users).
            _keysCommand = new NpgsqlCommand(AddKeys(LoadedTables) + "ANALYZE users_next, compounds_next;", _connection, _transaction) { CommandTimeout = 0 };
            _keysSpan = Telemetry.EtlTelemetry.StartBackgroundSpan("etl.keys");
            _keys = _keysCommand.ExecuteNonQueryAsync();
        }

        public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
        {
            try
            {
                return CommitOrCancel(features, run, rejects, clock, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException && cancellationToken.IsCancellationRequested)
            {
                // A statement stopped by the cancellation fails with its own error; the run was cancelled.
                throw new OperationCanceledException("The load was cancelled before its commit.", e, cancellationToken);
            }
        }

        /// <remarks>
        /// A cancellation (DELETE on the run, or SIGTERM) stops the commit and rolls everything back at any point before
        /// the swap: statements under way are cancelled. The swap, the data set's record and the commit take
        /// milliseconds, and once the swap has begun the commit is finished.
        /// </remarks>
        RunRecord CommitOrCancel(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
        {
            var keys = _keys ?? throw new InvalidOperationException("Commit before the experiments were completed.");
            using var stopKeys = cancellationToken.Register(() => _keysCommand?.Cancel());
            try
            {
                WriteFeatureTables(features, cancellationToken);
            }
            finally
            {
                // The connection is busy until the keys are built; WaitAny waits without throwing, so a failure of
                // the feature tables is not hidden by one of the keys.
                Task.WaitAny([keys], CancellationToken.None);
                _ = keys.Exception; // Observed here: when both fail, the feature tables' failure is the one reported.
                Telemetry.EtlTelemetry.EndBackgroundSpan(_keysSpan);
            }
            keys.GetAwaiter().GetResult();

            WriteRejects(_connection, run.RunId, rejects);

            cancellationToken.ThrowIfCancellationRequested();
            using (Telemetry.EtlTelemetry.Source.StartActivity("etl.swap"))
            {
                Swap(cancellationToken);
            }
            run = run with { FinishedAt = clock.GetUtcNow() };

            using (var command = new NpgsqlCommand("""
                INSERT INTO dataset (id, run_id, loaded_at, users, experiments, compounds, active_users)
                VALUES (1, $1, $2, $3, $4, $5, $6)
                """, _connection, _transaction))
            {
                command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.RunId });
                command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = run.FinishedAt ?? run.StartedAt });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.UserCount });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.ExperimentCount });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.CompoundCount });
                command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.ActiveUserCount });
                command.ExecuteNonQuery();
            }
            SaveRunIn(_connection, run);
            _transaction.Commit();
            _committed = true;
            return run;
        }

        /// <summary>
        /// Replaces the tables with their <c>_next</c> versions: exclusive locks for a few catalog changes, at the very end.
        /// </summary>
        /// <remarks>
        /// A reader that holds a table for long (a large report streamed to a slow client) would make the swap wait,
        /// and every reader arriving after it would queue behind the swap's exclusive lock. So each attempt waits at
        /// most <see cref="SwapLockTimeout"/>, then steps back to let the queued readers through and tries again.
        /// </remarks>
        void Swap(CancellationToken cancellationToken)
        {
            var sql = $"SET LOCAL lock_timeout = {(int)SwapLockTimeout.TotalMilliseconds};";
            foreach (var table in SwappedTables)
            {
                var next = table.Name + "_next";
                sql += $"DROP TABLE {table.Name}; ALTER TABLE {next} RENAME TO {table.Name};" +
                       $"ALTER TABLE {table.Name} RENAME CONSTRAINT {next}_pkey TO {table.Name}_pkey;";
            }
            sql += "DELETE FROM dataset; SET LOCAL lock_timeout = DEFAULT;";
            var waiting = System.Diagnostics.Stopwatch.StartNew();
            while (true)
            {
                _transaction.Save("swap");
                try
                {
                    // Not cancelled half-way: the swap is the point after which the commit is finished.
                    Execute(_connection, _transaction, sql, CancellationToken.None);
                    _transaction.Release("swap");
                    return;
                }
                // Readers lock the tables in the swap's order, so a deadlock is not expected; if one happens, retry too.
                catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.LockNotAvailable or PostgresErrorCodes.DeadlockDetected)
                {
                    _transaction.Rollback("swap");
                    if (waiting.Elapsed > MaxSwapWait)
                    {
                        throw new TimeoutException(
                            $"The new data set could not replace the current one: readers kept its tables busy for {MaxSwapWait.TotalMinutes:0} minutes.", e);
                    }
                    cancellationToken.WaitHandle.WaitOne(SwapRetryPause);
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }

        /// <summary>Creates, fills, keys and commits the feature tables on a connection of their own.</summary>
        void WriteFeatureTables(DataSetFeatures features, CancellationToken cancellationToken)
        {
            using var span = Telemetry.EtlTelemetry.Source.StartActivity("etl.feature_tables");
            using var connection = _dataSource.OpenConnection();
            using var transaction = connection.BeginTransaction();
            WatchForDeadClient(connection, transaction);
            Execute(connection, transaction, CreateNextTables(FeatureTables), cancellationToken);
            CopyAll(connection, "COPY user_features_next (user_id, experiment_count, fav_compound_id, fav_compound_name) FROM STDIN (FORMAT BINARY, FREEZE)", 4,
                features.Users,
                (copy, f) =>
                {
                    copy.WriteInt32(f.UserId);
                    copy.WriteInt32(f.ExperimentCount);
                    if (f.FavoriteCompoundId is { } favorite)
                    {
                        copy.WriteInt32(favorite);
                        copy.WriteText(_compoundNames[favorite]);
                    }
                    else
                    {
                        copy.WriteNull();
                        copy.WriteNull();
                    }
                });
            cancellationToken.ThrowIfCancellationRequested();
            CopyAll(connection, "COPY user_favorites_next (user_id, compound_id, experiments) FROM STDIN (FORMAT BINARY, FREEZE)", 3, features.Favorites,
                static (copy, f) =>
                {
                    copy.WriteInt32(f.UserId);
                    copy.WriteInt32(f.CompoundId);
                    copy.WriteInt32(f.Experiments);
                });
            cancellationToken.ThrowIfCancellationRequested();
            CopyAll(connection, "COPY compound_features_next (compound_id, experiments, users) FROM STDIN (FORMAT BINARY, FREEZE)", 3, features.Compounds,
                static (copy, c) =>
                {
                    copy.WriteInt32(c.CompoundId);
                    copy.WriteInt64(c.Experiments);
                    copy.WriteInt32(c.Users);
                });
            Execute(connection, transaction, AddKeys(FeatureTables) + "ANALYZE user_features_next, user_favorites_next, compound_features_next;", cancellationToken);
            cancellationToken.ThrowIfCancellationRequested();
            _featureTablesCommitted = true; // Set first: a commit that fails on the way back may still have happened.
            transaction.Commit();
        }

        public void Dispose()
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            if (_keys is { IsCompleted: false } keys)
            {
                _keysCommand!.Cancel(); // Abandoned while the keys were being built: no need to finish them.
                Task.WaitAny(keys);
            }
            _keysCommand?.Dispose();
            Telemetry.EtlTelemetry.EndBackgroundSpan(_keysSpan);
            _transaction.Dispose();
            if (_featureTablesCommitted && !_committed)
            {
                DropFeatureTables();
            }
            _connection.Dispose();
        }

        /// <summary>
        /// Best effort, after the rollback: the next load replaces these tables anyway. Only while no other load holds
        /// the load lock, whose own feature tables these names may already be.
        /// </summary>
        void DropFeatureTables()
        {
            try
            {
                using var command = new NpgsqlCommand($"""
                    DO $$
                    BEGIN
                        IF pg_try_advisory_xact_lock({LoadLockKey}) THEN
                            DROP TABLE IF EXISTS {string.Join(", ", FeatureTables.Select(t => t.Name + "_next"))};
                        END IF;
                    END $$
                    """, _connection);
                command.ExecuteNonQuery();
            }
            catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
            {
                // The connection is broken: the tables stay until the next load.
            }
        }
    }

    /// <summary>Stores a run's rejected rows, numbered in file order, in the connection's transaction.</summary>
    internal static void WriteRejects(NpgsqlConnection connection, Guid runId, IReadOnlyList<RejectedRow> rejects) =>
        CopyAll(connection, "COPY rejects (run_id, seq, file, line, raw, reason) FROM STDIN (FORMAT BINARY)", 6,
            rejects.Select((reject, i) => (Seq: (long)i + 1, Reject: reject)),
            (copy, r) =>
            {
                copy.WriteUuid(runId);
                copy.WriteInt64(r.Seq);
                copy.WriteText(r.Reject.File);
                copy.WriteInt64(r.Reject.Line);
                copy.WriteText(r.Reject.Raw);
                copy.WriteText(r.Reject.Reason);
            });

    /// <summary>Saves a run's record in the connection's transaction (with the data set it loaded).</summary>
    internal static void SaveRunIn(NpgsqlConnection connection, RunRecord run)
    {
        using var command = new NpgsqlCommand(SaveRun, connection);
        AddRunParameters(command, run);
        command.ExecuteNonQuery();
    }

    static void CopyAll<TRow>(NpgsqlConnection connection, string copyCommand, short fieldCount, IEnumerable<TRow> rows, Action<PgBinaryCopyWriter, TRow> writeRow)
    {
        using var writer = new CopyWriter<TRow>(connection, copyCommand, fieldCount, writeRow);
        foreach (var row in rows)
        {
            writer.Write(row);
        }
        writer.Complete();
    }

    /// <param name="completed">Runs once every row has reached the table.</param>
    internal sealed class CopyWriter<TRow>(
        NpgsqlConnection connection, string copyCommand, short fieldCount, Action<PgBinaryCopyWriter, TRow> writeRow, Action? completed = null)
        : IRowWriter<TRow>
    {
        readonly PgBinaryCopyWriter _copy = new(connection, copyCommand);

        public void Write(in TRow row)
        {
            _copy.StartRow(fieldCount);
            writeRow(_copy, row);
        }

        public void Complete()
        {
            _copy.Complete();
            completed?.Invoke();
        }

        public void Dispose() => _copy.Dispose();
    }
}
