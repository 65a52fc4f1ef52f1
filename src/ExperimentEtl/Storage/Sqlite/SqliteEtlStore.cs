using System.Runtime.CompilerServices;
using ExperimentEtl.Model;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>
/// The embedded database: a SQLite file, or by default an ephemeral one in a private temporary folder that is deleted
/// when the process ends.
/// </summary>
/// <remarks>
/// A load is one transaction of prepared inserts. WAL mode lets readers keep reading the previous data set until the
/// commit, on the file and on the ephemeral database alike. The default used to be SQLite's shared-cache in-memory
/// database, but its locks are per table, not per snapshot: a reader holding one table while waiting for another that
/// the load had written deadlocked with the load (SQLITE_LOCKED until the 60 s timeout). An ephemeral file also keeps
/// the data set out of the process's memory; the operating system's page cache keeps it about as fast.
/// </remarks>
public sealed partial class SqliteEtlStore : IEtlStore, IDisposable
{
    const string EphemeralPrefix = "experiment-etl-db-";

    // After a load, the write-ahead log is checkpointed and cut back to this size: without it the log kept the size
    // of the last load, or of the transaction that filled the disk, until the process exited.
    const long WalSizeLimit = 4 * 1024 * 1024;

    readonly string _connectionString;

    // The database file: its comparison state is kept beside it.
    readonly string _path;

    // The ephemeral database's folder, locked while this process uses it; null for a file the operator chose.
    readonly ScratchFolder? _ephemeral;

    readonly ChangeListSettings _changes;

    /// <param name="path">A database file; null or empty for an ephemeral database.</param>
    /// <param name="changes">How much of each load's change list to keep.</param>
    public SqliteEtlStore(string? path, ChangeListSettings? changes = null)
    {
        _changes = changes ?? ChangeListSettings.Default;
        if (string.IsNullOrEmpty(path))
        {
            // Databases of killed processes (their folders' locks are free) would otherwise stay in the temporary folder.
            ScratchFolder.DeleteAbandoned(Path.GetTempPath(), EphemeralPrefix);
            _ephemeral = ScratchFolder.Create(Path.GetTempPath(), EphemeralPrefix);
            path = Path.Combine(_ephemeral.Path, "experiments.db");
        }
        _path = Path.GetFullPath(path);
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            DefaultTimeout = 60,
            Pooling = true,
        }.ConnectionString;
    }

    public string Provider => "sqlite";

    /// <summary>True for the default database that lives as long as the process.</summary>
    public bool Ephemeral => _ephemeral is not null;

    // The pooled SQLite handles whose settings are made: a pragma per open cost a page of users about a tenth of its time.
    readonly ConditionalWeakTable<sqlite3, object> _configured = [];
    static readonly object Configured = new();

    internal SqliteConnection Open()
    {
        var connection = new SqliteConnection(_connectionString);
        try
        {
            connection.Open();
            if (!_configured.TryGetValue(connection.Handle!, out _))
            {
                // An ephemeral database need not survive a crash: its commits skip the disk flush.
                Execute(connection, $"PRAGMA synchronous = {(Ephemeral ? "OFF" : "NORMAL")}; PRAGMA journal_size_limit = {WalSizeLimit};");
                _configured.AddOrUpdate(connection.Handle!, Configured);
            }
            return connection;
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    static object? Scalar(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteScalar();
    }

    static void Execute(SqliteConnection connection, string sql, SqliteTransaction? transaction = null)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    public void Dispose()
    {
        if (_ephemeral is null)
        {
            return;
        }
        using (var connection = new SqliteConnection(_connectionString))
        {
            SqliteConnection.ClearPool(connection);
        }
        _ephemeral.Dispose();
    }
}
