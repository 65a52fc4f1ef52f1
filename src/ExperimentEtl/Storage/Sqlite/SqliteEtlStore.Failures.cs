using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>Which of SQLite's failures are worth retrying.</summary>
public sealed partial class SqliteEtlStore
{
    /// <summary>SQLite's failures: a busy, locked, full or unreadable database is worth retrying; any other error is not.</summary>
    internal static StoreFailure? ClassifyFailure(Exception exception) => exception switch
    {
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6 or 10 or 13 or 14 // BUSY, LOCKED, IOERR, FULL, CANTOPEN
            ? StoreFailure.Unavailable
            : StoreFailure.Failed,
        _ => null,
    };
}
