using System.Globalization;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>Change-only reloads: the data set's tables changed in place, in one transaction.</summary>
public sealed partial class SqliteEtlStore
{
    public IDataSetPatch? BeginPatch() => new SqlitePatch(Open(), ReadCurrent(), _changes);

    /// <summary>The data set in the file, read outside any load: nothing but a load changes it, and loads take turns.</summary>
    DataSetIdentity? ReadCurrent()
    {
        using var connection = Open();
        return ReadIdentity(connection, null);
    }

    static DataSetIdentity? ReadIdentity(SqliteConnection connection, SqliteTransaction? transaction)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = "SELECT run_id, users, compounds, experiments FROM dataset";
        using var reader = command.ExecuteReader();
        return reader.Read() && !reader.IsDBNull(0)
            ? new DataSetIdentity(Guid.Parse(reader.GetString(0), CultureInfo.InvariantCulture), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3))
            : null;
    }

    /// <summary>Beside the database's file (inside the ephemeral database's private folder, deleted with it).</summary>
    public string? ComparisonStatePath => _path + ".etl-state";

    /// <remarks>
    /// Readers read a snapshot of the write-ahead log, so they see the data set before the commit or after it, never a
    /// part of the patch, and are never blocked by it. The added and changed rows are staged in temporary tables.
    /// </remarks>
    sealed class SqlitePatch : IDataSetPatch
    {
        static readonly SqliteChangeSql Dialect = new();

        readonly SqliteConnection _connection;
        readonly SqliteTransaction _transaction;
        readonly ChangeListSettings _changes;
        bool _disposed;

        public SqlitePatch(SqliteConnection connection, DataSetIdentity? current, ChangeListSettings changes)
        {
            _connection = connection;
            _changes = changes;
            Current = current;
            try
            {
                // Deferred, as a load: the run's own record is saved meanwhile. Until the commit only the temporary
                // database is written, which takes no lock on the file.
                _transaction = connection.BeginTransaction(deferred: true);
                Execute(connection, string.Concat(DataSetTables.All.Where(t => t.Loaded)
                    .Select(t => Dialect.CreateEmptyScratch(PatchApplier.StagedName(t), t.Columns) + ";")), _transaction);
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        public DataSetIdentity? Current { get; }

        public IRowWriter<UserRow> OpenUsers() => LoadedRows.Users(_connection, Dialect.Scratch(PatchApplier.StagedName(DataSetTables.Users)));

        public IRowWriter<CompoundRow> OpenCompounds() => LoadedRows.Compounds(_connection, Dialect.Scratch(PatchApplier.StagedName(DataSetTables.Compounds)));

        public IRowWriter<ExperimentRow> OpenExperiments() => LoadedRows.Experiments(_connection, Dialect.Scratch(PatchApplier.StagedName(DataSetTables.Experiments)));

        public RunRecord Commit(DataSetPatch patch, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
        {
            // The first statement on the file writes, so the transaction takes the write lock with a fresh snapshot;
            // then the data set is checked again: the patch applies only to the one it was compared with.
            Execute(_connection, "UPDATE dataset SET id = id;", _transaction);
            if (ReadIdentity(_connection, _transaction) != Current)
            {
                throw new FullLoadNeededException("The data set in the database changed while this reload compared the files with it.");
            }
            var applier = new PatchApplier(_connection, _transaction, Dialect, t => t.Name, _changes);
            applier.CheckRowCounts(Current!, cancellationToken);
            WriteRejects(_connection, run.RunId, rejects, cancellationToken);
            run = run with { FinishedAt = clock.GetUtcNow() };
            var (change, written) = applier.Apply(patch, run.RunId, run.FinishedAt.Value, cancellationToken);
            run = run with { FinishedAt = clock.GetUtcNow(), Changes = change, RowsWritten = written };
            applier.Finish(run.RunId, run.FinishedAt.Value, cancellationToken);
            return SaveAndCommit(_connection, _transaction, run, cancellationToken);
        }

        public void Dispose()
        {
            if (!_disposed)
            {
                _disposed = true;
                Release(_connection, _transaction);
            }
        }
    }
}
