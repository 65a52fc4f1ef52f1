using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// A change-only reload on PostgreSQL: the current generation's tables are changed in place, in the load's
/// transaction, under the load lock; no new generation is written.
/// </summary>
/// <remarks>
/// Readers are not blocked: the patch only deletes, inserts and updates rows, which takes no lock a reader's
/// ACCESS SHARE waits for; and a reader's transaction is REPEATABLE READ (<see cref="Generations"/>), so all its
/// statements see the generation before the commit or after it. The added and changed rows are streamed by binary
/// COPY into unlogged staging tables in the generation, created and dropped in the same transaction (no reader
/// ever sees them), then moved by <see cref="PatchApplier"/>.
/// </remarks>
sealed class PostgresPatch : IDataSetPatch
{
    static readonly DataSetTable[] LoadedTables = [.. DataSetTables.All.Where(t => t.Loaded)];

    readonly NpgsqlConnection _connection;
    readonly NpgsqlTransaction _transaction;
    readonly string _schema;
    readonly ChangeListSettings _changes;
    // The tables' row counts, read on a connection of its own while the files stream (the database is idle then):
    // counting 10M experiments took 0.8 s of the commit.
    readonly Task<(long, long, long)>? _counted;
    bool _disposed;

    public PostgresPatch(NpgsqlDataSource dataSource, ChangeListSettings changes)
    {
        _changes = changes;
        _connection = dataSource.OpenConnection();
        try
        {
            _transaction = _connection.BeginTransaction();
            PgLocks.TakeLoadLock(_connection, _transaction);
            _schema = Generations.Schema(Generations.CurrentAsync(_connection, CancellationToken.None).GetAwaiter().GetResult()
                ?? throw new InvalidOperationException("The schema is not in place (GET /setup_test_db creates it)."));
            Current = ReadCurrent();
            var live = Live;
            _counted = Task.Run(async () =>
            {
                await using var connection = await dataSource.OpenConnectionAsync();
                await using var command = new NpgsqlCommand(PatchApplier.CountRows(live), connection) { CommandTimeout = 0 };
                await using var reader = await command.ExecuteReaderAsync();
                await reader.ReadAsync();
                return (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2));
            });
            var dialect = Dialect;
            PgSql.Execute(_connection, _transaction, string.Concat(LoadedTables.Select(t => dialect.CreateEmptyScratch(PatchApplier.StagedName(t), t.Columns) + ";")));
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public DataSetIdentity? Current { get; }

    PostgresChangeSql Dialect => new(_schema, _schema);

    Func<DataSetTable, string> Live
    {
        get
        {
            var schema = _schema;
            return t => $"{schema}.{t.Name}";
        }
    }

    DataSetIdentity? ReadCurrent()
    {
        using var command = new NpgsqlCommand($"SELECT run_id, users, compounds, experiments FROM {_schema}.{DataSetTables.DataSet.Name}", _connection, _transaction);
        using var reader = command.ExecuteReader();
        return reader.Read() && !reader.IsDBNull(0)
            ? new DataSetIdentity(reader.GetGuid(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : null;
    }

    string CopyInto(DataSetTable table) =>
        $"COPY {Dialect.Scratch(PatchApplier.StagedName(table))} ({table.ColumnList}) FROM STDIN (FORMAT BINARY)";

    public IRowWriter<UserRow> OpenUsers() => new CopyWriter<UserRow>(_connection, CopyInto(DataSetTables.Users), 4, LoadedRows.WriteUser);

    public IRowWriter<CompoundRow> OpenCompounds() => new CopyWriter<CompoundRow>(_connection, CopyInto(DataSetTables.Compounds), 3, LoadedRows.WriteCompound);

    public IRowWriter<ExperimentRow> OpenExperiments() => new CopyWriter<ExperimentRow>(_connection, CopyInto(DataSetTables.Experiments), 4, LoadedRows.WriteExperiment);

    public RunRecord Commit(DataSetPatch patch, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        try
        {
            PatchApplier.CheckRowCounts(Current!, _counted!.WaitAsync(cancellationToken).GetAwaiter().GetResult());
            var applier = new PatchApplier(_connection, _transaction, Dialect, Live, _changes);
            PostgresStoreBase.WriteRejects(_connection, run.RunId, rejects);
            run = run with { FinishedAt = clock.GetUtcNow() };
            var (change, written) = applier.Apply(patch, run.RunId, run.FinishedAt.Value, cancellationToken);
            run = run with { FinishedAt = clock.GetUtcNow(), Changes = change, RowsWritten = written };
            applier.Finish(run.RunId, run.FinishedAt.Value, cancellationToken);
            PostgresStoreBase.SaveRunIn(_connection, run);
            cancellationToken.ThrowIfCancellationRequested();
            using (Telemetry.EtlTelemetry.Source.StartActivity("etl.publish"))
            {
                _transaction.Commit();
            }
            return run;
        }
        catch (Exception e) when (e is not OperationCanceledException && cancellationToken.IsCancellationRequested)
        {
            throw new OperationCanceledException("The load was cancelled before its commit.", e, cancellationToken);
        }
    }

    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _transaction?.Dispose();
        _connection.Dispose();
        // Observed, whatever it ended with: the count is only of use to a commit.
        _counted?.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
    }
}
