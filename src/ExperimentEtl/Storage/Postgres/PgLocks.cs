using ExperimentEtl.Model;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>The advisory locks that PostgreSQL and Citus stores take on the database they serve (on Citus, the coordinator).</summary>
static class PgLocks
{
    // Advisory lock keys: arbitrary constants that name this application's locks.
    public const long SchemaLockKey = 0x45544C_0001;
    public const long LoadLockKey = 0x45544C_0002;

    static readonly TimeSpan LoadLockPatience = TimeSpan.FromMilliseconds(500);

    /// <summary>Serialises schema changes: replicas starting together would otherwise race on CREATE TABLE IF NOT EXISTS.</summary>
    public static string TakeSchemaLock => $"SELECT pg_advisory_xact_lock({SchemaLockKey});";

    /// <summary>
    /// Makes the server check every second, even in the middle of a long statement (a key build), that the client is
    /// still there. Without it, a process killed while PostgreSQL built a key kept the load lock, and its run looked
    /// alive, until the build ended. (PostgreSQL 14 and later; older servers check when they next talk to the client.)
    /// </summary>
    public static void WatchForDeadClient(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        if (connection.PostgreSqlVersion.Major >= 14)
        {
            PgSql.Execute(connection, transaction, "SET LOCAL client_connection_check_interval = 1000");
        }
    }

    /// <summary>
    /// Takes the load lock for the transaction, watching for a dead client; throws <see cref="RunInProgressException"/>
    /// when another load holds it.
    /// </summary>
    public static void TakeLoadLock(NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        WatchForDeadClient(connection, transaction);
        try
        {
            // Waits a moment rather than failing at once: a replica checking for abandoned runs holds the lock for
            // a few milliseconds at times, which must not turn a start into a conflict.
            PgSql.Execute(connection, transaction,
                $"SET LOCAL lock_timeout = {(int)LoadLockPatience.TotalMilliseconds}; SELECT pg_advisory_xact_lock({LoadLockKey}); SET LOCAL lock_timeout = DEFAULT;");
        }
        catch (PostgresException e) when (e.SqlState == PostgresErrorCodes.LockNotAvailable)
        {
            throw new RunInProgressException();
        }
    }

    /// <summary>A condition that is true while no load holds the database (it takes the load lock for the transaction).</summary>
    public static string NoLoadRunning => $"pg_try_advisory_xact_lock({LoadLockKey})";
}
