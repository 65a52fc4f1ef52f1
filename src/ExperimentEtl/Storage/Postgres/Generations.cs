using System.Data;
using System.Data.Common;
using System.Runtime.CompilerServices;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// How a PostgreSQL or Citus database publishes data sets without ever making a reader fail or wait: each load writes a
/// new <em>generation</em>, a schema <c>etl_gen_N</c> with the data set's tables; the
/// one-row table <c>data_generation</c> names the current one; readers pin the generation they find and read it
/// through <c>search_path</c>, so the read model's SQL is the same on every backend. A change-only reload changes the
/// current generation's rows in place instead (PostgresPatch); readers' REPEATABLE READ snapshots keep that atomic.
/// </summary>
/// <remarks>
/// <para>
/// Publishing is an UPDATE of the pointer row, which no reader locks: a reader never waits for a load and a load
/// never waits for readers. (The previous single-node layout renamed tables under readers' feet: a page's statement
/// took its table locks one by one in plan order while the swap took exclusive locks in its own order, and PostgreSQL
/// broke the cycle by aborting one of them with 40P01, 13 to 28 pages a load in the drill of docs/faults.md.)
/// </para>
/// <para>
/// An old generation is dropped only while no reader pins it (a transaction-level advisory lock, shared by readers,
/// tried exclusively by the dropper, so the dropper never waits either) and only below the current one: a generation
/// being written has a higher number than any published one, since numbers are drawn under the load lock.
/// </para>
/// </remarks>
static class Generations
{
    public const string Prefix = "etl_gen_";

    // The (int, int) form, class and generation, never meets the stores' bigint advisory keys.
    const int LockClass = 0x45544C03;
    const int MaxPinAttempts = 100;

    public static string Schema(long generation) => Prefix + generation;

    /// <summary>The pointer and the sequence generations are numbered from.</summary>
    public const string PointerTable = """
        CREATE TABLE IF NOT EXISTS data_generation (id integer PRIMARY KEY CHECK (id = 1), generation bigint NOT NULL);
        CREATE SEQUENCE IF NOT EXISTS data_generation_seq;
        """;

    /// <summary>Makes <paramref name="generation"/> the current one; in the transaction that wrote it (single node) or after.</summary>
    public static string Publish(long generation) => $"UPDATE data_generation SET generation = {generation}";

    public static string Insert(long generation) => $"INSERT INTO data_generation (id, generation) VALUES (1, {generation});";

    public static async Task<long?> CurrentAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT generation FROM data_generation", connection);
        return await command.ExecuteScalarAsync(cancellationToken) is long generation ? generation : null;
    }

    public static async Task<long> NextAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT nextval('data_generation_seq')", connection);
        return (long)(await command.ExecuteScalarAsync(cancellationToken))!;
    }

    // A reader's transaction, pinned to a generation when its connection was opened (see OpenPinnedAsync).
    static readonly ConditionalWeakTable<NpgsqlConnection, NpgsqlTransaction> Pinned = new();

    /// <summary>
    /// A connection whose transaction is pinned to the current generation: every statement on it, with or without
    /// <see cref="BeginConsistentReadAsync"/>, reads that generation's tables, which never change.
    /// </summary>
    public static async Task<DbConnection> OpenPinnedAsync(NpgsqlDataSource dataSource, IsolationLevel isolation, CancellationToken cancellationToken)
    {
        var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        try
        {
            Pinned.Add(connection, await PinAsync(connection, isolation, cancellationToken));
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>The pinned transaction of a connection from <see cref="OpenPinnedAsync"/>; one is pinned now for any other.</summary>
    public static async Task<DbTransaction> BeginConsistentReadAsync(DbConnection connection, IsolationLevel isolation, CancellationToken cancellationToken)
    {
        var npgsql = (NpgsqlConnection)connection;
        if (Pinned.TryGetValue(npgsql, out var transaction))
        {
            Pinned.Remove(npgsql);
            return transaction;
        }
        return await PinAsync(npgsql, isolation, cancellationToken);
    }

    /// <remarks>
    /// REPEATABLE READ (<paramref name="isolation"/>; Citus, which never changes a generation in place, keeps READ
    /// COMMITTED), one round trip: the first statement takes the transaction's snapshot, reads the generation the
    /// pointer names in it, locks that generation (shared) and points <c>search_path</c> at it; every later statement
    /// sees the same snapshot, so a change-only reload that changes the generation's rows in place (PostgresPatch) is
    /// seen before its commit or after it, whole. The second statement checks that the generation still exists now
    /// that it is locked: a load may have published a successor and dropped it between the snapshot and the lock
    /// (opening the table takes a lock, which makes PostgreSQL see the drop). Then the pin starts again with a new
    /// snapshot. Once locked and found, the generation cannot be dropped until this transaction ends: a load drops a
    /// generation only while it can take the lock exclusively.
    /// </remarks>
    static async Task<NpgsqlTransaction> PinAsync(NpgsqlConnection connection, IsolationLevel isolation, CancellationToken cancellationToken)
    {
        for (var attempt = 0; attempt < MaxPinAttempts; attempt++)
        {
            var transaction = await connection.BeginTransactionAsync(isolation, cancellationToken);
            try
            {
                await using var command = new NpgsqlCommand($"""
                    SELECT generation, pg_advisory_xact_lock_shared({LockClass}, generation::integer)::text,
                           set_config('search_path', '{Prefix}' || generation || ', public', true) FROM data_generation;
                    SELECT pg_relation_size((split_part(current_setting('search_path'), ',', 1) || '.dataset')::regclass) IS NOT NULL
                    """, connection, transaction);
                await using var reader = await command.ExecuteReaderAsync(cancellationToken);
                if (!await reader.ReadAsync(cancellationToken))
                {
                    throw new InvalidOperationException("The schema is not in place (GET /setup_test_db creates it).");
                }
                await reader.NextResultAsync(cancellationToken);
                if (await reader.ReadAsync(cancellationToken) && reader.GetBoolean(0))
                {
                    return transaction;
                }
            }
            catch (PostgresException e) when (e.SqlState is PostgresErrorCodes.UndefinedTable or PostgresErrorCodes.InvalidSchemaName)
            {
                // Dropped before the lock was granted: look again.
            }
            catch
            {
                await transaction.DisposeAsync();
                throw;
            }
            await transaction.DisposeAsync();
        }
        throw new TimeoutException($"The data set changed {MaxPinAttempts} times while a reader tried to open it.");
    }

    /// <summary>
    /// Drops the generations below the current one that no reader has pinned (best effort: one still pinned is dropped
    /// by a later load), and so also a generation that a load wrote but did not publish (its process died in between).
    /// Never waits for a reader.
    /// </summary>
    public static async Task DropOldAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        if (await CurrentAsync(connection, cancellationToken) is not { } current)
        {
            return;
        }
        var old = new List<long>();
        await using (var command = new NpgsqlCommand(
            $"SELECT substr(nspname, {Prefix.Length + 1})::bigint FROM pg_namespace WHERE nspname ~ '^{Prefix}[0-9]+$'", connection))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                if (reader.GetInt64(0) < current)
                {
                    old.Add(reader.GetInt64(0));
                }
            }
        }
        foreach (var generation in old)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await using var tryLock = new NpgsqlCommand($"SELECT pg_try_advisory_xact_lock({LockClass}, {generation})", connection, transaction);
            if (await tryLock.ExecuteScalarAsync(cancellationToken) is true)
            {
                await DropAsync(connection, transaction, generation, cancellationToken);
            }
            await transaction.CommitAsync(cancellationToken);
        }
    }

    /// <summary>Drops a generation's schema and tables; no command timeout (on Citus it drops every shard).</summary>
    public static async Task DropAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, long generation, CancellationToken cancellationToken)
    {
        await using var drop = new NpgsqlCommand($"DROP SCHEMA IF EXISTS {Schema(generation)} CASCADE", connection, transaction) { CommandTimeout = 0 };
        await drop.ExecuteNonQueryAsync(cancellationToken);
    }
}
