using ExperimentEtl.Model;
using Npgsql;
using NpgsqlTypes;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>Run records and rejected rows: plain tables on the database (on Citus, the coordinator).</summary>
public abstract partial class PostgresStoreBase
{
    const string SaveRun = """
        INSERT INTO runs (run_id, status, mode, source, started_at, finished_at, updated_at, files, error_count, errors, rejected_count, message, applied)
        VALUES ($1, $2, $3, $4, $5, $6, now(), $7::jsonb, $8, $9::jsonb, $10, $11, $12::jsonb)
        ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, finished_at = excluded.finished_at, updated_at = now(),
            files = excluded.files, error_count = excluded.error_count, errors = excluded.errors,
            rejected_count = excluded.rejected_count, message = excluded.message, applied = excluded.applied
        """;

    const string SelectRun = $"SELECT {RunColumns.List} FROM runs";

    public bool SharedByProcesses => true;

    public async Task SaveRunAsync(RunRecord run, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(SaveRun);
        AddRunParameters(command, run);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    static void AddRunParameters(NpgsqlCommand command, RunRecord run)
    {
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.RunId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = run.Status });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RunJson.Mode(run.Mode) });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = run.Source });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = run.StartedAt });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)run.FinishedAt ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.TimestampTz });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RunJson.Files(run) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = run.ErrorCount });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RunJson.Errors(run) });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = run.RejectedCount });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)run.Message ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)RunJson.Apply(run) ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
    }

    public async Task<bool> SaveRunProgressAsync(RunRecord run, CancellationToken cancellationToken)
    {
        // Only while active: a late progress save must never overwrite the end the commit just recorded.
        await using var command = dataSource.CreateCommand(
            "UPDATE runs SET status = $2, files = $3::jsonb, updated_at = now() WHERE run_id = $1 AND status IN ('queued', 'running') RETURNING cancel_requested");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = run.RunId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = run.Status });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = RunJson.Files(run) });
        return await command.ExecuteScalarAsync(cancellationToken) is true;
    }

    public async Task<RunRecord?> GetRunAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"{SelectRun} WHERE run_id = $1");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = runId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        return await reader.ReadAsync(cancellationToken) ? ReadRun(reader) : null;
    }

    public async Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, Guid? before, CancellationToken cancellationToken)
    {
        // Version 7 run ids sort by creation time, so the id is the page key.
        await using var command = dataSource.CreateCommand($"{SelectRun} WHERE $1::uuid IS NULL OR run_id < $1 ORDER BY run_id DESC LIMIT $2");
        command.Parameters.Add(new NpgsqlParameter { Value = (object?)before ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var runs = new List<RunRecord>();
        while (await reader.ReadAsync(cancellationToken))
        {
            runs.Add(ReadRun(reader));
        }
        return runs;
    }

    public async Task<Guid?> FindActiveRunAsync(CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT run_id FROM runs WHERE status IN ('queued', 'running') ORDER BY run_id DESC LIMIT 1");
        return await command.ExecuteScalarAsync(cancellationToken) is Guid id ? id : null;
    }

    public async Task<RunRecord?> RequestCancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        await using (var command = dataSource.CreateCommand("UPDATE runs SET cancel_requested = true WHERE run_id = $1 AND status IN ('queued', 'running')"))
        {
            command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = runId });
            await command.ExecuteNonQueryAsync(cancellationToken);
        }
        return await GetRunAsync(runId, cancellationToken);
    }

    public async Task<int> FailAbandonedRunsAsync(string message, DateTimeOffset now, TimeSpan quietFor, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        // Looked at every few seconds by every replica: the load lock is only touched when there is a run to check.
        await using (var any = new NpgsqlCommand("SELECT EXISTS (SELECT FROM runs WHERE status IN ('queued', 'running'))", connection))
        {
            if (await any.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return 0;
            }
        }
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        // A live run holds the load lock for its whole transaction, and takes it before its record is written: when we
        // can take it, every 'queued' or 'running' record is an orphan.
        await using (var lockCommand = new NpgsqlCommand($"SELECT {PgLocks.NoLoadRunning}", connection, transaction))
        {
            if (await lockCommand.ExecuteScalarAsync(cancellationToken) is not true)
            {
                return 0;
            }
        }
        await using var command = new NpgsqlCommand("""
            UPDATE runs SET status = 'failed', message = $1, finished_at = $2, updated_at = now()
            WHERE status IN ('queued', 'running') AND updated_at <= now() - $3
            """, connection, transaction);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = message });
        command.Parameters.Add(new NpgsqlParameter<DateTimeOffset> { TypedValue = now });
        command.Parameters.Add(new NpgsqlParameter<TimeSpan> { TypedValue = quietFor });
        var failed = await command.ExecuteNonQueryAsync(cancellationToken);
        await transaction.CommitAsync(cancellationToken);
        return failed;
    }

    public async Task<IReadOnlyList<StoredReject>> ListRejectsAsync(Guid runId, int limit, long after, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT seq, file, line, raw, reason FROM rejects WHERE run_id = $1 AND seq > $2 ORDER BY seq LIMIT $3");
        command.Parameters.Add(new NpgsqlParameter<Guid> { TypedValue = runId });
        command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = after });
        command.Parameters.Add(new NpgsqlParameter<int> { TypedValue = limit });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rejects = new List<StoredReject>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rejects.Add(new StoredReject(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3), reader.GetString(4)));
        }
        return rejects;
    }

    /// <summary>Stores a run's rejected rows, numbered in file order, in the connection's transaction.</summary>
    internal static void WriteRejects(NpgsqlConnection connection, Guid runId, IReadOnlyList<Model.RejectedRow> rejects) =>
        PgSql.CopyAll(connection, "COPY rejects (run_id, seq, file, line, raw, reason) FROM STDIN (FORMAT BINARY)", 6,
            rejects.Select((reject, i) => (Seq: (long)i + 1, Reject: reject)),
            (copy, r) =>
            {
                copy.WriteUuid(runId);
                copy.WriteInt64(r.Seq);
                copy.WriteText(r.Reject.File);
                copy.WriteInt64(r.Reject.Line);
                copy.WriteText(r.Reject.Raw);
                copy.WriteText(r.Reject.Reason);
            });

    /// <summary>Saves a run's record in the connection's transaction (with the data set it loaded).</summary>
    internal static void SaveRunIn(NpgsqlConnection connection, RunRecord run)
    {
        using var command = new NpgsqlCommand(SaveRun, connection);
        AddRunParameters(command, run);
        command.ExecuteNonQuery();
    }

    RunRecord ReadRun(NpgsqlDataReader reader) =>
        RunColumns.Read(reader, reader.GetGuid, reader.GetFieldValue<DateTimeOffset>) with { Provider = Provider };
}
