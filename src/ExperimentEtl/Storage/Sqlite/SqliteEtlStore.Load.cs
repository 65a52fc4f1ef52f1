using System.Globalization;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>Loads: one transaction that replaces the data set, and the write-ahead log given back after it.</summary>
public sealed partial class SqliteEtlStore
{
    public IDataSetLoad BeginLoad() => new SqliteLoad(Open(), _changes);

    /// <summary>
    /// Copies the write-ahead log into the database and empties it, after a load committed or rolled back: a load's log
    /// is as large as the load, and one that failed on a full disk would otherwise keep the disk full.
    /// </summary>
    /// <remarks>
    /// Best effort. A reader still on the old snapshot keeps the log's frames alive; the checkpoint then waits only a
    /// second for it, and the next checkpoint (SQLite runs one at commits once the log is large) cuts the log back to
    /// <see cref="WalSizeLimit"/>.
    /// </remarks>
    static void GiveBackLogSpace(SqliteConnection connection)
    {
        try
        {
            Execute(connection, "PRAGMA busy_timeout = 1000;");
            for (var attempt = 0; attempt < 2; attempt++)
            {
                // Its first column is 1 when another connection kept it from finishing: try once more.
                if (Convert.ToInt64(Scalar(connection, "PRAGMA wal_checkpoint(TRUNCATE)"), CultureInfo.InvariantCulture) == 0)
                {
                    return;
                }
            }
        }
        catch (SqliteException)
        {
            // Busy, or the disk is still full: the log is cut back at a later checkpoint.
        }
    }

    /// <summary>Saves the run's record with its data set and commits; the last moment a cancellation (DELETE, SIGTERM) rolls the load back.</summary>
    static RunRecord SaveAndCommit(SqliteConnection connection, SqliteTransaction transaction, RunRecord run, CancellationToken cancellationToken)
    {
        SaveRunRecord(connection, transaction, run);
        cancellationToken.ThrowIfCancellationRequested();
        transaction.Commit();
        return run;
    }

    /// <summary>Ends a load's transaction (rolled back unless committed), gives the log's space back and closes.</summary>
    static void Release(SqliteConnection connection, SqliteTransaction? transaction)
    {
        transaction?.Dispose();
        GiveBackLogSpace(connection);
        connection.Dispose();
    }

    static void InsertAll<TRow>(SqliteConnection connection, string sql, IEnumerable<TRow> rows, Action<Row, TRow> bind, CancellationToken cancellationToken)
    {
        using var writer = new Writer<TRow>(connection, sql, bind);
        var written = 0;
        foreach (var row in rows)
        {
            writer.Write(row);
            if (++written % 4096 == 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
            }
        }
        writer.Complete();
    }

    /// <summary>Stores a run's rejected rows, numbered in file order, in the connection's transaction.</summary>
    static void WriteRejects(SqliteConnection connection, Guid runId, IReadOnlyList<RejectedRow> rejects, CancellationToken cancellationToken)
    {
        var id = runId.ToString();
        InsertAll(connection, "INSERT INTO rejects (run_id, seq, file, line, raw, reason) VALUES ($1, $2, $3, $4, $5, $6)",
            rejects.Select((reject, i) => (Seq: (long)i + 1, Reject: reject)),
            (p, r) =>
            {
                p.Set(1, id);
                p.Set(2, r.Seq);
                p.Set(3, r.Reject.File);
                p.Set(4, r.Reject.Line);
                p.Set(5, r.Reject.Raw);
                p.Set(6, r.Reject.Reason);
            }, cancellationToken);
    }

    /// <summary>The loaded tables' inserts, into the data set's tables or a patch's staging tables.</summary>
    static class LoadedRows
    {
        public static Writer<UserRow> Users(SqliteConnection connection, string table) => new Writer<UserRow>(connection,
            $"INSERT INTO {table} (user_id, name, email, signup_date) VALUES ($1, $2, $3, $4)",
            static (p, row) =>
            {
                p.Set(1, row.UserId);
                p.Set(2, row.Name);
                p.Set(3, row.Email);
                p.Set(4, row.SignupDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            });

        public static Writer<CompoundRow> Compounds(SqliteConnection connection, string table, Action<CompoundRow>? seen = null) => new Writer<CompoundRow>(connection,
            $"INSERT INTO {table} (compound_id, name, structure) VALUES ($1, $2, $3)",
            (p, row) =>
            {
                seen?.Invoke(row);
                p.Set(1, row.CompoundId);
                p.Set(2, row.Name);
                p.Set(3, row.Structure);
            });

        // The compound ids as text ("1;2"): one insert an experiment. A pairs table took 2.5 inserts an experiment, for no query.
        public static Writer<ExperimentRow> Experiments(SqliteConnection connection, string table) => new Writer<ExperimentRow>(connection,
            $"INSERT INTO {table} (experiment_id, user_id, compound_ids, run_time) VALUES ($1, $2, $3, $4)",
            static (p, row) =>
            {
                p.Set(1, row.ExperimentId);
                p.Set(2, row.UserId);
                p.Set(3, string.Join(';', row.CompoundIds));
                p.Set(4, row.RunTime);
            });
    }

    sealed class SqliteLoad : IDataSetLoad
    {
        readonly SqliteConnection _connection;
        readonly SqliteTransaction _transaction;
        // For the favourite's name in user_features, as on PostgreSQL: the report then reads two tables, not three.
        readonly Dictionary<int, string> _compoundNames = [];
        readonly ChangeListSettings _changes;
        bool _disposed;

        public SqliteLoad(SqliteConnection connection, ChangeListSettings changes)
        {
            _connection = connection;
            _changes = changes;
            // Deferred: the write lock is taken by the first write, so the run's own record can still be saved meanwhile.
            _transaction = connection.BeginTransaction(deferred: true);
        }

        public IRowWriter<UserRow> OpenUsers()
        {
            // The replaced data set is kept aside until the commit, which compares the new one with it (ChangeRecorder)
            // and then drops it: dropping costs what deleting its rows cost before.
            Execute(_connection, string.Concat(DataSetTables.All.Select(t =>
                $"DROP TABLE IF EXISTS {SqliteChangeSql.OldPrefix}{t.Name}; ALTER TABLE {t.Name} RENAME TO {SqliteChangeSql.OldPrefix}{t.Name};\n")) +
                string.Concat(DataSetTables.All.Select(SqliteSchema.CreateTable)), _transaction);
            return LoadedRows.Users(_connection, DataSetTables.Users.Name);
        }

        public IRowWriter<CompoundRow> OpenCompounds() => LoadedRows.Compounds(_connection, DataSetTables.Compounds.Name, row => _compoundNames[row.CompoundId] = row.Name);

        public IRowWriter<ExperimentRow> OpenExperiments() => LoadedRows.Experiments(_connection, DataSetTables.Experiments.Name);

        public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
        {
            WriteRejects(_connection, run.RunId, rejects, cancellationToken);
            InsertAll(_connection, $"INSERT INTO user_features ({DataSetTables.UserFeatures.ColumnList}) VALUES ($1, $2, $3, $4, $5, $6)", features.Users,
                (p, f) =>
                {
                    p.Set(1, f.UserId);
                    p.Set(2, f.ExperimentCount);
                    p.Set(3, f.FavoriteCompoundId);
                    p.Set(4, f.FavoriteCompoundId is { } favorite ? _compoundNames.GetValueOrDefault(favorite) : null);
                    p.Set(5, f.RowFingerprint);
                    p.Set(6, f.ExperimentsFingerprint);
                }, cancellationToken);
            InsertAll(_connection, "INSERT INTO user_favorites (user_id, compound_id, experiments) VALUES ($1, $2, $3)", features.Favorites,
                static (p, f) =>
                {
                    p.Set(1, f.UserId);
                    p.Set(2, f.CompoundId);
                    p.Set(3, f.Experiments);
                }, cancellationToken);
            InsertAll(_connection, "INSERT INTO compound_features (compound_id, experiments, users) VALUES ($1, $2, $3)", features.Compounds,
                static (p, c) =>
                {
                    p.Set(1, c.CompoundId);
                    p.Set(2, c.Experiments);
                    p.Set(3, c.Users);
                }, cancellationToken);
            run = run with { FinishedAt = clock.GetUtcNow() };
            using (var command = _connection.CreateCommand())
            {
                command.Transaction = _transaction;
                command.CommandText = """
                    INSERT INTO dataset (id, run_id, loaded_at, users, experiments, compounds, active_users)
                    VALUES (1, $run_id, $loaded_at, $users, $experiments, $compounds, $active_users)
                    """;
                command.Parameters.AddWithValue("$run_id", run.RunId.ToString());
                command.Parameters.AddWithValue("$loaded_at", (run.FinishedAt ?? run.StartedAt).ToString("O", CultureInfo.InvariantCulture));
                command.Parameters.AddWithValue("$users", features.UserCount);
                command.Parameters.AddWithValue("$experiments", features.ExperimentCount);
                command.Parameters.AddWithValue("$compounds", features.CompoundCount);
                command.Parameters.AddWithValue("$active_users", features.ActiveUserCount);
                command.ExecuteNonQuery();
            }
            var changes = new ChangeRecorder(_connection, _transaction, new SqliteChangeSql(), _changes);
            var change = changes.Record(cancellationToken);
            run = run with { FinishedAt = clock.GetUtcNow() };
            changes.Stamp(run.RunId, run.FinishedAt.Value, cancellationToken);
            Execute(_connection, string.Concat(DataSetTables.All.Select(t => $"DROP TABLE {SqliteChangeSql.OldPrefix}{t.Name};")), _transaction);
            return SaveAndCommit(_connection, _transaction, run with { Changes = change }, cancellationToken);
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
