using Npgsql;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// Holds a PostgreSQL load between reading its files and its commit: the test creates <c>user_features_next</c> and holds
/// a lock on it, so the load's feature tables wait (their first statement drops that table) until <see cref="ReleaseAsync"/>.
/// </summary>
public sealed class HeldFeatureTables : IAsyncDisposable
{
    readonly NpgsqlConnection _connection;
    readonly NpgsqlTransaction _hold;

    HeldFeatureTables(NpgsqlConnection connection, NpgsqlTransaction hold) => (_connection, _hold) = (connection, hold);

    public static async Task<HeldFeatureTables> HoldAsync(string database)
    {
        var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using (var create = new NpgsqlCommand("CREATE TABLE user_features_next (x integer)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }
        var hold = await connection.BeginTransactionAsync();
        await using (var lockTable = new NpgsqlCommand("LOCK TABLE user_features_next IN ACCESS SHARE MODE", connection, hold))
        {
            await lockTable.ExecuteNonQueryAsync();
        }
        return new HeldFeatureTables(connection, hold);
    }

    /// <summary>Waits (at most 30 s) until a load is waiting for the held table: it has read all its files.</summary>
    public async Task WaitForLoadAsync()
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            await using var waiting = new NpgsqlCommand(
                "SELECT count(*) FROM pg_locks WHERE NOT granted AND relation = 'user_features_next'::regclass", _connection, _hold);
            if ((long)(await waiting.ExecuteScalarAsync())! > 0)
            {
                return;
            }
            Assert.True(DateTime.UtcNow < deadline, "the run never reached its feature tables");
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
