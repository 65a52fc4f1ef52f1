using System.Globalization;
using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>The schema: created, or migrated from an earlier version, and checked for readiness.</summary>
public sealed partial class SqliteEtlStore
{
    /// <summary>Bumped whenever the schema (<see cref="SqliteSchema"/>) changes in a way CREATE IF NOT EXISTS cannot apply.</summary>
    /// <remarks>3: user_features.fav_compound_name. 4: runs.applied.</remarks>
    const int SchemaVersion = 4;

    public Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        using var connection = Open();
        Execute(connection, "PRAGMA journal_mode = WAL;");
        using var transaction = connection.BeginTransaction();
        using (var version = connection.CreateCommand())
        {
            version.Transaction = transaction;
            version.CommandText = "PRAGMA user_version";
            var found = Convert.ToInt32(version.ExecuteScalar(), CultureInfo.InvariantCulture);
            if (found < 2)
            {
                // Files of earlier versions hold only a loaded data set, which the next run loads again.
                Execute(connection, """
                    DROP TABLE IF EXISTS experiment_compounds; DROP TABLE IF EXISTS experiments; DROP TABLE IF EXISTS users;
                    DROP TABLE IF EXISTS compounds; DROP TABLE IF EXISTS user_features; DROP TABLE IF EXISTS dataset;
                    DROP TABLE IF EXISTS runs;
                    """, transaction);
            }
            if (found == 2)
            {
                // Keeps the loaded data set and its runs: the favourite's name is copied from compounds, as a load writes it.
                Execute(connection, """
                    ALTER TABLE user_features ADD COLUMN fav_compound_name TEXT;
                    UPDATE user_features SET fav_compound_name = (SELECT c.name FROM compounds c WHERE c.compound_id = user_features.fav_compound_id);
                    """, transaction);
            }
            if (found is >= 2 and < 4)
            {
                Execute(connection, "ALTER TABLE runs ADD COLUMN applied TEXT;", transaction);
            }
        }
        Execute(connection, SqliteSchema.CreateAll + $"PRAGMA user_version = {SchemaVersion};", transaction);
        transaction.Commit();
        return Task.CompletedTask;
    }

    public Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            using var connection = Open();
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name IN ({string.Join(", ", SqliteSchema.TableNames.Select(t => $"'{t}'"))})";
            return Task.FromResult(Convert.ToInt32(command.ExecuteScalar(), CultureInfo.InvariantCulture) == SqliteSchema.TableNames.Count);
        }
        catch (SqliteException)
        {
            return Task.FromResult(false);
        }
    }
}
