using Npgsql;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// Holds a PostgreSQL or Citus load at its very last step, after it has read its files and written its generation: the
/// test locks the row of <c>data_generation</c> that a load updates to publish, until <see cref="ReleaseAsync"/>.
/// Readers only read that row, so they are not held. <see cref="HoldChangeAsync"/> holds it one step earlier, in the
/// computation of its change.
/// </summary>
public sealed class HeldPublish : IAsyncDisposable
{
    readonly NpgsqlConnection _connection;
    readonly NpgsqlTransaction _hold;

    HeldPublish(NpgsqlConnection connection, NpgsqlTransaction hold) => (_connection, _hold) = (connection, hold);

    /// <summary>Holds the next publish; the database's schema must be in place (a service has started on it).</summary>
    public static Task<HeldPublish> HoldAsync(string database) => HoldWithAsync(database, "SELECT generation FROM data_generation FOR UPDATE");

    /// <summary>
    /// Holds the next reload while it computes its change (its first look at the history), before it publishes: the
    /// test locks the history, which nothing else of a load touches. Start the servers first (their start-up creates it).
    /// </summary>
    public static Task<HeldPublish> HoldChangeAsync(string database) => HoldWithAsync(database, "LOCK TABLE load_history IN ACCESS EXCLUSIVE MODE");

    /// <summary>Takes a lock with <paramref name="sql"/> in a transaction that stays open until <see cref="ReleaseAsync"/>.</summary>
    static async Task<HeldPublish> HoldWithAsync(string database, string sql)
    {
        var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        var hold = await connection.BeginTransactionAsync();
        await using (var take = new NpgsqlCommand(sql, connection, hold))
        {
            await take.ExecuteNonQueryAsync();
        }
        return new HeldPublish(connection, hold);
    }

    /// <summary>Waits (at most 30 s) until a load waits to publish: it has read all its files and written its data set.</summary>
    public async Task WaitForLoadAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            // pg_stat_activity is read once per transaction: the holding transaction clears it before each look.
            await using (var clear = new NpgsqlCommand("SELECT pg_stat_clear_snapshot()", _connection, _hold))
            {
                await clear.ExecuteNonQueryAsync();
            }
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_stat_activity WHERE pg_backend_pid() = ANY(pg_blocking_pids(pid))", _connection, _hold);
            if ((long)(await waiting.ExecuteScalarAsync())! > 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run never reached its publish");
            await Task.Delay(100);
        }
    }

    public async Task ReleaseAsync() => await _hold.RollbackAsync();

    public async ValueTask DisposeAsync()
    {
        await _hold.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
