using System.Globalization;
using ExperimentEtl.Model;
using Microsoft.Data.Sqlite;

namespace ExperimentEtl.Storage.Sqlite;

/// <summary>Run records and rejected rows.</summary>
public sealed partial class SqliteEtlStore
{
    const string SaveRun = """
        INSERT INTO runs (run_id, status, mode, source, started_at, finished_at, updated_at, files, error_count, errors, rejected_count, message, applied)
        VALUES ($run_id, $status, $mode, $source, $started_at, $finished_at, $updated_at, $files, $error_count, $errors, $rejected_count, $message, $applied)
        ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, updated_at = excluded.updated_at,
            files = excluded.files, error_count = excluded.error_count, errors = excluded.errors,
            rejected_count = excluded.rejected_count, message = excluded.message, applied = excluded.applied
        """;

    // One process, one writer at a time: a run's progress stays in the process while its load holds the database.
    public bool SharedByProcesses => false;

    public Task SaveRunAsync(RunRecord run, CancellationToken cancellationToken)
    {
        using var connection = Open();
        SaveRunRecord(connection, null, run);
        return Task.CompletedTask;
    }

    public Task<bool> SaveRunProgressAsync(RunRecord run, CancellationToken cancellationToken) =>
        throw new NotSupportedException("SQLite keeps run progress in the process.");

    static void SaveRunRecord(SqliteConnection connection, SqliteTransaction? transaction, RunRecord run)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = SaveRun;
        command.Parameters.AddWithValue("$run_id", run.RunId.ToString());
        command.Parameters.AddWithValue("$status", run.Status);
        command.Parameters.AddWithValue("$mode", RunJson.Mode(run.Mode));
        command.Parameters.AddWithValue("$source", run.Source);
        command.Parameters.AddWithValue("$started_at", Text(run.StartedAt));
        command.Parameters.AddWithValue("$finished_at", run.FinishedAt is { } finished ? Text(finished) : DBNull.Value);
        command.Parameters.AddWithValue("$updated_at", Text(DateTimeOffset.UtcNow));
        command.Parameters.AddWithValue("$files", RunJson.Files(run));
        command.Parameters.AddWithValue("$error_count", run.ErrorCount);
        command.Parameters.AddWithValue("$errors", RunJson.Errors(run));
        command.Parameters.AddWithValue("$rejected_count", run.RejectedCount);
        command.Parameters.AddWithValue("$message", (object?)run.Message ?? DBNull.Value);
        command.Parameters.AddWithValue("$applied", (object?)RunJson.Apply(run) ?? DBNull.Value);
        command.ExecuteNonQuery();
    }

    public Task<RunRecord?> GetRunAsync(Guid runId, CancellationToken cancellationToken)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT {RunColumns.List} FROM runs WHERE run_id = $id";
        command.Parameters.AddWithValue("$id", runId.ToString());
        using var reader = command.ExecuteReader();
        return Task.FromResult(reader.Read() ? ReadRun(reader) : null);
    }

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, Guid? before, CancellationToken cancellationToken)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        // Version 7 run ids sort by creation time, so the id is the page key.
        command.CommandText = $"SELECT {RunColumns.List} FROM runs WHERE $before IS NULL OR run_id < $before ORDER BY run_id DESC LIMIT $limit";
        command.Parameters.AddWithValue("$before", (object?)before?.ToString() ?? DBNull.Value);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var runs = new List<RunRecord>();
        while (reader.Read())
        {
            runs.Add(ReadRun(reader));
        }
        return Task.FromResult<IReadOnlyList<RunRecord>>(runs);
    }

    public Task<Guid?> FindActiveRunAsync(CancellationToken cancellationToken)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT run_id FROM runs WHERE status IN ('queued', 'running') ORDER BY run_id DESC LIMIT 1";
        return Task.FromResult(command.ExecuteScalar() is string id ? Guid.Parse(id) : (Guid?)null);
    }

    public async Task<RunRecord?> RequestCancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        using (var connection = Open())
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "UPDATE runs SET cancel_requested = 1 WHERE run_id = $id AND status IN ('queued', 'running')";
            command.Parameters.AddWithValue("$id", runId.ToString());
            command.ExecuteNonQuery();
        }
        return await GetRunAsync(runId, cancellationToken);
    }

    public Task<int> FailAbandonedRunsAsync(string message, DateTimeOffset now, TimeSpan quietFor, CancellationToken cancellationToken)
    {
        // SQLite is used by one process, which calls this at its start-up only: no run can still be going on. The quiet
        // period is kept all the same, as the contract says; it is measured on the clock that stamps updated_at.
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = """
            UPDATE runs SET status = 'failed', message = $message, finished_at = $now, updated_at = $now
            WHERE status IN ('queued', 'running') AND updated_at <= $quiet_since
            """;
        command.Parameters.AddWithValue("$message", message);
        command.Parameters.AddWithValue("$now", Text(now));
        command.Parameters.AddWithValue("$quiet_since", Text(DateTimeOffset.UtcNow - quietFor));
        return Task.FromResult(command.ExecuteNonQuery());
    }

    public Task<IReadOnlyList<StoredReject>> ListRejectsAsync(Guid runId, int limit, long after, CancellationToken cancellationToken)
    {
        using var connection = Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT seq, file, line, raw, reason FROM rejects WHERE run_id = $id AND seq > $after ORDER BY seq LIMIT $limit";
        command.Parameters.AddWithValue("$id", runId.ToString());
        command.Parameters.AddWithValue("$after", after);
        command.Parameters.AddWithValue("$limit", limit);
        using var reader = command.ExecuteReader();
        var rejects = new List<StoredReject>();
        while (reader.Read())
        {
            rejects.Add(new StoredReject(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4)));
        }
        return Task.FromResult<IReadOnlyList<StoredReject>>(rejects);
    }

    RunRecord ReadRun(SqliteDataReader reader)
    {
        var run = RunColumns.Read(reader,
            i => Guid.Parse(reader.GetString(i)),
            i => DateTimeOffset.Parse(reader.GetString(i), CultureInfo.InvariantCulture));
        return run with { Provider = Provider };
    }

    static string Text(DateTimeOffset time) => time.ToString("O", CultureInfo.InvariantCulture);
}
