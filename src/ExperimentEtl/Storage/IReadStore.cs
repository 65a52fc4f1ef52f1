namespace ExperimentEtl.Storage;

/// <summary>What the read model and the report read the data set through.</summary>
public interface IReadStore
{
    /// <summary>
    /// A condition for the read model's SQL: <paramref name="column"/> matches the lower-case LIKE pattern in
    /// <paramref name="parameter"/> (escape <c>\</c>) whatever its case — every letter's on PostgreSQL, ASCII letters'
    /// on SQLite (whose lower() and LIKE know no others). The result is SQL text: call it with the read model's own
    /// column and parameter names only, never with input.
    /// </summary>
    string MatchesIgnoringCase(string column, string parameter);

    /// <summary>An open connection for the read model's queries (which both databases run alike).</summary>
    Task<System.Data.Common.DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts a read-only transaction on <paramref name="connection"/> in which every statement sees the same data set,
    /// even if a load commits in between.
    /// </summary>
    Task<System.Data.Common.DbTransaction> BeginConsistentReadAsync(System.Data.Common.DbConnection connection, CancellationToken cancellationToken);

    /// <summary>Opens a consistent snapshot of the current report: summary and users from the same data set.</summary>
    Task<IReportSnapshot> OpenReportAsync(CancellationToken cancellationToken);
}
