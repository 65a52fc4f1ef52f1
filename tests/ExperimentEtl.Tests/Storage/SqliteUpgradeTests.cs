using ExperimentEtl.Storage.Sqlite;
using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Tests.Storage;

/// <summary>A SQLite file written by an earlier version, opened by this one.</summary>
public sealed class SqliteUpgradeTests
{
    [Fact]
    public async Task A_file_of_schema_version_2_keeps_its_data_set_and_runs_and_reports_the_favourites_name()
    {
        var directory = Directory.CreateTempSubdirectory("etl-test-sqlite-").FullName;
        try
        {
            var path = Path.Combine(directory, "experiments.db");
            var runId = Guid.CreateVersion7();
            // Version 2's tables, as that version wrote them (user_features had no fav_compound_name), with a data set.
            await using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = $"""
                    CREATE TABLE users (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, signup_date TEXT NOT NULL);
                    CREATE TABLE compounds (compound_id INTEGER PRIMARY KEY, name TEXT NOT NULL, structure TEXT NOT NULL);
                    CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, compound_ids TEXT NOT NULL, run_time INTEGER NOT NULL);
                    CREATE TABLE user_features (user_id INTEGER PRIMARY KEY, experiment_count INTEGER NOT NULL, fav_compound_id INTEGER);
                    CREATE TABLE user_favorites (user_id INTEGER NOT NULL, compound_id INTEGER NOT NULL, experiments INTEGER NOT NULL,
                        PRIMARY KEY (user_id, compound_id)) WITHOUT ROWID;
                    CREATE TABLE compound_features (compound_id INTEGER PRIMARY KEY, experiments INTEGER NOT NULL, users INTEGER NOT NULL);
                    CREATE TABLE dataset (id INTEGER PRIMARY KEY CHECK (id = 1), run_id TEXT, loaded_at TEXT NOT NULL,
                        users INTEGER NOT NULL, experiments INTEGER NOT NULL, compounds INTEGER NOT NULL, active_users INTEGER NOT NULL);
                    CREATE TABLE runs (run_id TEXT PRIMARY KEY, status TEXT NOT NULL, mode TEXT NOT NULL, source TEXT NOT NULL,
                        started_at TEXT NOT NULL, finished_at TEXT, updated_at TEXT NOT NULL,
                        files TEXT NOT NULL, error_count INTEGER NOT NULL, errors TEXT NOT NULL, rejected_count INTEGER NOT NULL,
                        message TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0);
                    CREATE TABLE rejects (run_id TEXT NOT NULL, seq INTEGER NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL, raw TEXT NOT NULL,
                        reason TEXT NOT NULL, PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
                    INSERT INTO users VALUES (1, 'Ada', 'ada@example.com', '2024-01-01'), (2, 'Bo', 'bo@example.com', '2024-01-02');
                    INSERT INTO compounds VALUES (7, 'Caffeine', 'C8H10N4O2');
                    INSERT INTO experiments VALUES (1, 1, '7', 10);
                    INSERT INTO user_features VALUES (1, 1, 7), (2, 0, NULL);
                    INSERT INTO user_favorites VALUES (1, 7, 1);
                    INSERT INTO compound_features VALUES (7, 1, 1);
                    INSERT INTO dataset VALUES (1, '{runId}', '2024-02-01T00:00:00.0000000+00:00', 2, 1, 1, 1);
                    INSERT INTO runs VALUES ('{runId}', 'succeeded', 'strict', 'data_folder', '2024-02-01T00:00:00.0000000+00:00',
                        '2024-02-01T00:00:00.0000000+00:00', '2024-02-01T00:00:00.0000000+00:00', '[]', 0, '[]', 0, NULL, 0);
                    PRAGMA user_version = 2;
                    """;
                await command.ExecuteNonQueryAsync();
            }

            using var store = new SqliteEtlStore(path);
            await store.EnsureSchemaAsync(CancellationToken.None);

            Assert.True(await store.IsReadyAsync(CancellationToken.None));
            Assert.Equal("succeeded", (await store.GetRunAsync(runId, CancellationToken.None))?.Status);
            await using var report = await store.OpenReportAsync(CancellationToken.None);
            Assert.Equal((2L, 1L, runId), (report.Summary?.Users, report.Summary?.Experiments, report.Summary?.RunId));
            var users = new List<ExperimentEtl.Model.UserReport>();
            await foreach (var user in report.ReadUsersAsync(CancellationToken.None))
            {
                users.Add(user);
            }
            Assert.Equal(
                [new(1, "Ada", "ada@example.com", 1, "Caffeine", 7), new(2, "Bo", "bo@example.com", 0, null, null)],
                users);
        }
        finally
        {
            SqliteConnection.ClearAllPools();
            Directory.Delete(directory, recursive: true);
        }
    }
}
