using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>Statements and bulk copies of the PostgreSQL and Citus stores.</summary>
static class PgSql
{
    /// <remarks>
    /// A load's statements (key builds, waits for locks) last as long as the data needs, minutes at 30M experiments:
    /// no command timeout stops them half-way; the run's cancellation does.
    /// </remarks>
    public static void Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken = default)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction) { CommandTimeout = 0 };
        using var cancel = cancellationToken.Register(command.Cancel);
        command.ExecuteNonQuery();
    }

    /// <summary>As <see cref="Execute"/>, for the start-up and read paths: Npgsql's command timeout applies.</summary>
    public static async Task ExecuteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection, transaction);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    public static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken);
    }

    public static void CopyAll<TRow>(NpgsqlConnection connection, string copyCommand, short fieldCount, IEnumerable<TRow> rows, Action<PgBinaryCopyWriter, TRow> writeRow)
    {
        using var writer = new CopyWriter<TRow>(connection, copyCommand, fieldCount, writeRow);
        foreach (var row in rows)
        {
            writer.Write(row);
        }
        writer.Complete();
    }
}

/// <summary>A table's rows into one binary COPY.</summary>
/// <param name="completed">Runs once every row has reached the table.</param>
sealed class CopyWriter<TRow>(
    NpgsqlConnection connection, string copyCommand, short fieldCount, Action<PgBinaryCopyWriter, TRow> writeRow, Action? completed = null)
    : IRowWriter<TRow>
{
    readonly PgBinaryCopyWriter _copy = new(connection, copyCommand);

    public void Write(in TRow row)
    {
        _copy.StartRow(fieldCount);
        writeRow(_copy, row);
    }

    public void Complete()
    {
        _copy.Complete();
        completed?.Invoke();
    }

    public void Dispose() => _copy.Dispose();
}
