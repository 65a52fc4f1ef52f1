using System.Data.Common;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Changes;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// What the PostgreSQL and Citus stores share: runs and rejects (plain tables), and reads, which pin one published
/// generation of the data set (<see cref="Generations"/>), and the schema outside the generations. Each store makes
/// its own first generation and its own loads.
/// </summary>
public abstract partial class PostgresStoreBase(NpgsqlDataSource dataSource, ChangeListSettings changes) : IEtlStore
{
    // The report is read in one consistent transaction: the summary, then the users. Repeating the summary's
    // columns on every user row (one statement) sent 80 more bytes a user and took longer at 1M users.
    const string ReportSummaryQuery = "SELECT users, experiments, compounds, active_users, run_id, loaded_at FROM dataset";

    const string ReportUsersQuery = """
        SELECT u.user_id, u.name, u.email, f.experiment_count, f.fav_compound_name, f.fav_compound_id
        FROM users u
        JOIN user_features f ON f.user_id = u.user_id
        ORDER BY u.user_id
        """;

    protected NpgsqlDataSource DataSource => dataSource;

    /// <summary>How much of each load's change list to keep.</summary>
    protected ChangeListSettings ChangeLists => changes;

    public abstract string Provider { get; }

    /// <summary>The fixed tables, the pointer, and a first generation when there is none yet.</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        await PgSql.ExecuteAsync(connection, transaction, PgLocks.TakeSchemaLock + PgSchema.FixedTables + Generations.PointerTable, cancellationToken);
        if (await Generations.CurrentAsync(connection, cancellationToken) is null)
        {
            var generation = await Generations.NextAsync(connection, cancellationToken);
            var sql = await CreateFirstGenerationAsync(connection, generation, cancellationToken);
            await PgSql.ExecuteAsync(connection, transaction, sql + Generations.Insert(generation), cancellationToken);
        }
        await transaction.CommitAsync(cancellationToken);
    }

    /// <summary>The statements that create the first generation, keys included, run under the schema lock.</summary>
    protected abstract Task<string> CreateFirstGenerationAsync(NpgsqlConnection connection, long generation, CancellationToken cancellationToken);

    /// <summary>True when the tables outside the generations and the pointer are in place, and <see cref="AnswersAsync"/>.</summary>
    public async Task<bool> IsReadyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
            return await FixedTablesExistAsync(connection, cancellationToken) && await AnswersAsync(connection, cancellationToken);
        }
        catch (Exception e) when (e is NpgsqlException or TimeoutException or InvalidOperationException or OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>What else readiness needs beyond the database's answer (on Citus: every worker's).</summary>
    protected virtual Task<bool> AnswersAsync(NpgsqlConnection connection, CancellationToken cancellationToken) => Task.FromResult(true);

    public abstract IDataSetLoad BeginLoad();

    public virtual IDataSetPatch? BeginPatch() => null;

    public virtual string? ComparisonStatePath => null;

    public string MatchesIgnoringCase(string column, string parameter) => $@"lower({column}) LIKE {parameter} ESCAPE '\'";

    /// <summary>
    /// The isolation of readers' pinned transactions: REPEATABLE READ, so that a change-only reload, which changes the
    /// current generation in place, is seen whole or not at all; a store whose generations never change may read
    /// committed.
    /// </summary>
    protected virtual System.Data.IsolationLevel ReadIsolation => System.Data.IsolationLevel.RepeatableRead;

    public Task<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) => Generations.OpenPinnedAsync(dataSource, ReadIsolation, cancellationToken);

    /// <remarks>One pinned transaction reads one data set: one generation, in one snapshot.</remarks>
    public Task<DbTransaction> BeginConsistentReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        Generations.BeginConsistentReadAsync(connection, ReadIsolation, cancellationToken);

    public async Task<IReportSnapshot> OpenReportAsync(CancellationToken cancellationToken)
    {
        var connection = (NpgsqlConnection)await OpenReadConnectionAsync(cancellationToken);
        try
        {
            var transaction = (NpgsqlTransaction)await BeginConsistentReadAsync(connection, cancellationToken);
            ReportSummary? summary = null;
            await using (var command = new NpgsqlCommand(ReportSummaryQuery, connection, transaction))
            await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
            {
                if (await reader.ReadAsync(cancellationToken))
                {
                    summary = new ReportSummary(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3),
                        reader.IsDBNull(4) ? null : reader.GetGuid(4), reader.GetFieldValue<DateTimeOffset>(5));
                }
            }
            var users = summary is null ? null : await new NpgsqlCommand(ReportUsersQuery, connection, transaction).ExecuteReaderAsync(cancellationToken);
            return ReportSnapshot.FromTransaction(connection, transaction, summary, users,
                r => new UserReport(r.GetInt32(0), r.GetString(1), r.GetString(2), r.GetInt32(3),
                    r.IsDBNull(4) ? null : r.GetString(4), r.IsDBNull(5) ? null : r.GetInt32(5)));
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    static async Task<bool> FixedTablesExistAsync(NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(
            "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY($1)", connection);
        string[] tables = ["runs", "rejects", "data_generation", .. ChangeTables.All.Select(t => t.Name)];
        command.Parameters.Add(new NpgsqlParameter<string[]> { TypedValue = tables });
        return (long)(await command.ExecuteScalarAsync(cancellationToken))! == tables.Length;
    }
}
