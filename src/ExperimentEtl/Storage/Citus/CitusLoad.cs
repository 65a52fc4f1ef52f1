using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using ExperimentEtl.Storage.Postgres;
using Npgsql;

namespace ExperimentEtl.Storage.Citus;

/// <summary>
/// One load: a coordinator-only transaction that holds the load lock and, at the end, publishes; and the distributed
/// transaction that writes the new generation. Until the publish nothing points to the generation, and a load that
/// does not reach it rolls the generation back on every node (or, if the process dies between the two commits, the
/// next load drops it).
/// </summary>
sealed class CitusLoad : IDataSetLoad
{
    readonly NpgsqlDataSource _dataSource;
    readonly NpgsqlConnection _publish;
    readonly NpgsqlTransaction _publishTransaction;
    readonly NpgsqlConnection _load = null!;
    readonly NpgsqlTransaction _loadTransaction = null!;
    readonly long _generation;
    // The generation being replaced: the change is computed against it.
    readonly string _previousSchema = "";
    readonly ChangeListSettings _changes;
    // Whether the generation shares the previous one's colocation group (see CitusEtlStore.CreateGeneration).
    readonly bool _colocated;
    bool _written;
    bool _published;
    bool _disposed;

    public CitusLoad(NpgsqlDataSource dataSource, ChangeListSettings changes)
    {
        _dataSource = dataSource;
        _changes = changes;
        _publish = dataSource.OpenConnection();
        _publishTransaction = _publish.BeginTransaction();
        try
        {
            PgLocks.TakeLoadLock(_publish, _publishTransaction);
            Generations.DropOldAsync(dataSource, CancellationToken.None).GetAwaiter().GetResult();
            _previousSchema = Generations.Schema(Generations.CurrentAsync(_publish, CancellationToken.None).GetAwaiter().GetResult()
                ?? throw new InvalidOperationException("The schema is not in place (GET /setup_test_db creates it)."));
            _generation = Generations.NextAsync(_publish, CancellationToken.None).GetAwaiter().GetResult();
            _load = dataSource.OpenConnection();
            _loadTransaction = _load.BeginTransaction();
            // The coordinator stops the load's statements (and so the workers') once the process is gone.
            PgLocks.WatchForDeadClient(_load, _loadTransaction);
            _colocated = CitusEtlStore.ColocationOf(_publish, _publishTransaction, _previousSchema) is not null;
            PgSql.Execute(_load, _loadTransaction, CitusEtlStore.CreateGeneration(_generation, _colocated ? $"{_previousSchema}.users" : null) +
                (_colocated ? "" : CitusChangeSql.CopyReplaced(_previousSchema, Generations.Schema(_generation))));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public bool DerivesFeatures => true;

    string Table(DataSetTable table) => $"{Generations.Schema(_generation)}.{table.Name}";

    // No FREEZE: Citus ignores it for distributed tables.
    NodeNamingWriter<TRow> Copy<TRow>(DataSetTable table, Action<PgBinaryCopyWriter, TRow> writeRow) =>
        new NodeNamingWriter<TRow>(new CopyWriter<TRow>(_load, $"COPY {Table(table)} ({table.ColumnList}) FROM STDIN (FORMAT BINARY)",
            (short)table.Columns.Count, writeRow));

    public IRowWriter<UserRow> OpenUsers() => Copy<UserRow>(DataSetTables.Users, LoadedRows.WriteUser);

    public IRowWriter<CompoundRow> OpenCompounds() => Copy<CompoundRow>(DataSetTables.Compounds, LoadedRows.WriteCompound);

    public IRowWriter<ExperimentRow> OpenExperiments() => Copy<ExperimentRow>(DataSetTables.Experiments, LoadedRows.WriteExperiment);

    public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        try
        {
            return Publish(features, run, rejects, clock, cancellationToken);
        }
        catch (NpgsqlException e) when (CitusNodeErrors.NamingTheNode(e) is var named && named != e)
        {
            throw named;
        }
    }

    RunRecord Publish(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        PgSql.Execute(_load, _loadTransaction,
            CitusEtlStore.AddKeys(_generation, t => t.Loaded) + CitusEtlStore.DeriveFeatures(_generation) + CitusEtlStore.AddKeys(_generation, t => !t.Loaded),
            cancellationToken);
        // loaded_at is set again at the publish, in the same transaction as the pointer.
        using (var command = new NpgsqlCommand($"""
            INSERT INTO {Table(DataSetTables.DataSet)} (id, run_id, loaded_at, users, experiments, compounds, active_users)
            SELECT 1, $1, $2, $3, $4, $5, count(*) FROM {Table(DataSetTables.UserFeatures)} WHERE experiment_count > 0
            """, _load, _loadTransaction))
        {
            command.CommandTimeout = 0;
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.RunId });
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = clock.GetUtcNow() });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.UserCount });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.ExperimentCount });
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = features.CompoundCount });
            command.ExecuteNonQuery();
        }
        _written = true; // Set first: a commit that fails on the way back may still have happened.
        _loadTransaction.Commit();
        // After the commit: in the loading transaction, ANALYZE of a reference table just copied into fails ("cannot
        // execute command because a local execution has accessed a placement in the transaction"). The tables the
        // reads join; nothing reads experiments after the load (as on one PostgreSQL).
        PgSql.Execute(_load, null, "ANALYZE " + string.Join(", ", DataSetTables.All
            .Where(t => t != DataSetTables.Experiments && t != DataSetTables.DataSet).Select(Table)), cancellationToken);

        PostgresStoreBase.WriteRejects(_publish, run.RunId, rejects);
        // The end is now, once the generation is on every node: the record and the data set say the same time.
        run = run with { FinishedAt = clock.GetUtcNow() };
        using (var command = new NpgsqlCommand($"UPDATE {Table(DataSetTables.DataSet)} SET loaded_at = $1", _publish, _publishTransaction))
        {
            command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = run.FinishedAt.Value });
            command.ExecuteNonQuery();
        }
        // Both generations are committed on every node now; the change is written on the coordinator, published with the pointer.
        var changes = new ChangeRecorder(_publish, _publishTransaction, new CitusChangeSql(_previousSchema, Generations.Schema(_generation), _colocated), _changes);
        run = run with { Changes = changes.Record(cancellationToken) };
        run = run with { FinishedAt = clock.GetUtcNow() };
        changes.Stamp(run.RunId, run.FinishedAt.Value, cancellationToken);
        PgSql.Execute(_publish, _publishTransaction, Generations.Publish(_generation), cancellationToken);
        PostgresStoreBase.SaveRunIn(_publish, run);
        // Cancelled until here, the written generation is never published (the next load drops it).
        cancellationToken.ThrowIfCancellationRequested();
        _publishTransaction.Commit();
        _published = true;
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

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _loadTransaction?.Dispose();
        _publishTransaction.Dispose();
        if (_written && !_published)
        {
            DropGeneration();
        }
        _load?.Dispose();
        _publish.Dispose();
    }

    /// <summary>Best effort, once the publish has rolled back: nothing points to the generation; if this fails, the next load drops it.</summary>
    void DropGeneration()
    {
        try
        {
            Generations.DropAsync(_load, null, _generation, CancellationToken.None).GetAwaiter().GetResult();
        }
        catch (Exception e) when (e is NpgsqlException or InvalidOperationException)
        {
            // A node or the connection is gone: the next load drops the generation.
        }
    }
}
