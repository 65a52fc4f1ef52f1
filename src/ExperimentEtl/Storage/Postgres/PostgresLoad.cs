using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// One load into PostgreSQL: a new generation written in the load's transaction and published at its commit.
/// </summary>
/// <remarks>
/// Once the last experiment is sent, PostgreSQL builds the loaded tables' keys on this load's connection while the
/// pipeline computes the features and a second connection writes and keys the feature tables: on two cores that
/// overlap hid the 3–4 s the feature tables took after the experiments key at 10M experiments. So the generation's
/// schema is committed first, empty (nothing points to it), for the second connection to see; the feature tables are
/// committed there by that connection, and the rest of the generation, its record and the pointer by the load's commit.
/// A load that does not commit drops its generation again (or, if its process died, the next load does).
/// </remarks>
sealed class PostgresLoad : IDataSetLoad
{
    static readonly DataSetTable[] LoadedTables = [.. DataSetTables.All.Where(t => t.Loaded)];

    readonly NpgsqlDataSource _dataSource;
    readonly NpgsqlConnection _connection;
    readonly NpgsqlTransaction _transaction;
    readonly long _generation;
    readonly string _schema;
    // The generation being replaced: the change is computed against it.
    readonly string _previousSchema = "";
    readonly ChangeListSettings _changes;
    // For the favourite's name in user_features. Filled by the compounds' writer thread, read after it has completed.
    readonly Dictionary<int, string> _compoundNames = [];
    NpgsqlCommand? _keysCommand;
    Task? _keys;
    System.Diagnostics.Activity? _keysSpan;
    bool _schemaCreated;
    bool _committed;
    bool _disposed;

    public PostgresLoad(NpgsqlDataSource dataSource, ChangeListSettings changes)
    {
        _dataSource = dataSource;
        _changes = changes;
        _connection = dataSource.OpenConnection();
        try
        {
            _transaction = _connection.BeginTransaction();
            PgLocks.TakeLoadLock(_connection, _transaction);
            Generations.DropOldAsync(dataSource, CancellationToken.None).GetAwaiter().GetResult();
            // Under the load lock no other load publishes, and a current generation is never dropped: it stays readable.
            _previousSchema = Generations.Schema(Generations.CurrentAsync(_connection, CancellationToken.None).GetAwaiter().GetResult()
                ?? throw new InvalidOperationException("The schema is not in place (GET /setup_test_db creates it)."));
            _generation = Generations.NextAsync(_connection, CancellationToken.None).GetAwaiter().GetResult();
            _schema = Generations.Schema(_generation);
            using (var schemaConnection = dataSource.OpenConnection())
            {
                PgSql.Execute(schemaConnection, null, $"CREATE SCHEMA {_schema}");
                _schemaCreated = true;
            }
            PgSql.Execute(_connection, _transaction,
                string.Concat(LoadedTables.Append(DataSetTables.DataSet).Select(t => PgSchema.CreateTable(_schema, t, withKey: t == DataSetTables.DataSet, PgSchema.PatchedTableOptions))));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    string Table(DataSetTable table) => $"{_schema}.{table.Name}";

    // Rows are copied WITH FREEZE into tables created in the same transaction: they arrive frozen and all-visible,
    // at no measurable cost to the COPY, so autovacuum's pass a minute later scans 1 page of 92,000 (10M experiments)
    // instead of writing the whole table again.
    string CopyInto(DataSetTable table) => $"COPY {Table(table)} ({table.ColumnList}) FROM STDIN (FORMAT BINARY, FREEZE)";

    public IRowWriter<UserRow> OpenUsers() =>
        new CopyWriter<UserRow>(_connection, CopyInto(DataSetTables.Users), 4, LoadedRows.WriteUser);

    public IRowWriter<CompoundRow> OpenCompounds() => new CopyWriter<CompoundRow>(_connection, CopyInto(DataSetTables.Compounds), 3,
        (copy, row) =>
        {
            _compoundNames[row.CompoundId] = row.Name;
            LoadedRows.WriteCompound(copy, row);
        });

    // Experiments are the last table written: once they are in, the keys can be built.
    public IRowWriter<ExperimentRow> OpenExperiments() =>
        new CopyWriter<ExperimentRow>(_connection, CopyInto(DataSetTables.Experiments), 4, LoadedRows.WriteExperiment, StartKeys);

    void StartKeys()
    {
        // Fresh tables have no statistics: without them the report's join plans badly (1.2 s instead of 0.2 s at 100k users).
        var sql = string.Concat(LoadedTables.Select(t => PgSchema.AddKey(_schema, t, t.Key))) +
                  $"ANALYZE {Table(DataSetTables.Users)}, {Table(DataSetTables.Compounds)};";
        _keysCommand = new NpgsqlCommand(sql, _connection, _transaction) { CommandTimeout = 0 };
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
    /// the commit itself: statements under way are cancelled. Publishing is one UPDATE of a row no reader locks, so
    /// nothing a reader does can make it wait, fail or be chosen as a deadlock victim.
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

        PostgresStoreBase.WriteRejects(_connection, run.RunId, rejects);
        cancellationToken.ThrowIfCancellationRequested();
        run = run with { FinishedAt = clock.GetUtcNow() };
        using (Telemetry.EtlTelemetry.Source.StartActivity("etl.publish"))
        {
            using (var command = new NpgsqlCommand($"""
                INSERT INTO {Table(DataSetTables.DataSet)} (id, run_id, loaded_at, users, experiments, compounds, active_users)
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
            var changes = new ChangeRecorder(_connection, _transaction, new PostgresChangeSql(_previousSchema, _schema), _changes);
            run = run with { Changes = changes.Record(cancellationToken) };
            run = run with { FinishedAt = clock.GetUtcNow() };
            changes.Stamp(run.RunId, run.FinishedAt.Value, cancellationToken);
            PgSql.Execute(_connection, _transaction, Generations.Publish(_generation), cancellationToken);
            PostgresStoreBase.SaveRunIn(_connection, run);
            cancellationToken.ThrowIfCancellationRequested();
            _transaction.Commit();
            _committed = true;
        }
        try
        {
            Generations.DropOldAsync(_dataSource, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (NpgsqlException)
        {
            // Published already: the next load drops them.
        }
        return run;
    }

    /// <summary>Creates, fills, keys and commits the feature tables in the generation, on a connection of their own.</summary>
    void WriteFeatureTables(DataSetFeatures features, CancellationToken cancellationToken)
    {
        using var span = Telemetry.EtlTelemetry.Source.StartActivity("etl.feature_tables");
        using var connection = _dataSource.OpenConnection();
        using var transaction = connection.BeginTransaction();
        PgLocks.WatchForDeadClient(connection, transaction);
        PgSql.Execute(connection, transaction, string.Concat(DataSetTables.Features.Select(t => PgSchema.CreateTable(_schema, t, options: PgSchema.PatchedTableOptions))), cancellationToken);
        PgSql.CopyAll(connection, CopyInto(DataSetTables.UserFeatures), 6, features.Users,
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
                copy.WriteInt64(f.RowFingerprint);
                copy.WriteInt64(f.ExperimentsFingerprint);
            });
        cancellationToken.ThrowIfCancellationRequested();
        PgSql.CopyAll(connection, CopyInto(DataSetTables.UserFavorites), 3, features.Favorites,
            static (copy, f) =>
            {
                copy.WriteInt32(f.UserId);
                copy.WriteInt32(f.CompoundId);
                copy.WriteInt32(f.Experiments);
            });
        cancellationToken.ThrowIfCancellationRequested();
        PgSql.CopyAll(connection, CopyInto(DataSetTables.CompoundFeatures), 3, features.Compounds,
            static (copy, c) =>
            {
                copy.WriteInt32(c.CompoundId);
                copy.WriteInt64(c.Experiments);
                copy.WriteInt32(c.Users);
            });
        PgSql.Execute(connection, transaction,
            string.Concat(DataSetTables.Features.Select(t => PgSchema.AddKey(_schema, t, t.Key))) +
            $"ANALYZE {string.Join(", ", DataSetTables.Features.Select(Table))};", cancellationToken);
        cancellationToken.ThrowIfCancellationRequested();
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
        _transaction?.Dispose();
        if (_schemaCreated && !_committed)
        {
            DropGeneration();
        }
        _connection.Dispose();
    }

    /// <summary>Best effort, after the rollback: nothing points to the generation; if this fails, the next load drops it.</summary>
    void DropGeneration()
    {
        try
        {
            Generations.DropAsync(_connection, null, _generation, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // The connection is broken: the next load drops the generation.
        }
    }
}
