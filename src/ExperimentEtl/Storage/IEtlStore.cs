using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>A database the service loads data sets into and reports from. SQL lives in the implementations.</summary>
public interface IEtlStore
{
    /// <summary>"sqlite", "postgresql" or "citus", as shown in health and run answers.</summary>
    string Provider { get; }

    /// <summary>Creates or migrates the schema; safe to call any number of times, also from several processes at once.</summary>
    Task EnsureSchemaAsync(CancellationToken cancellationToken);

    /// <summary>True when the database answers and the schema is in place.</summary>
    Task<bool> IsReadyAsync(CancellationToken cancellationToken);

    /// <summary>
    /// Starts replacing the data set: one transaction that readers cannot see until <see cref="IDataSetLoad.Commit"/>.
    /// Throws <see cref="RunInProgressException"/> when another load holds the database.
    /// </summary>
    IDataSetLoad BeginLoad();

    /// <summary>Inserts or updates a run's record outside any load, so that it outlives a rolled-back load.</summary>
    Task SaveRunAsync(RunRecord run, CancellationToken cancellationToken);

    /// <summary>
    /// True when several server processes may share the database and its runs (PostgreSQL): a running run's progress is
    /// then saved for the others to show, and runs of a process that died are looked for all the time, not only at
    /// start-up. SQLite is used by one process with one writer at a time, so there progress is only kept in the process.
    /// </summary>
    bool SharedByProcesses { get; }

    /// <summary>Saves a running run's progress; returns true when someone asked for the run to be cancelled.</summary>
    Task<bool> SaveRunProgressAsync(RunRecord run, CancellationToken cancellationToken);

    Task<RunRecord?> GetRunAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Runs newest first, starting after <paramref name="before"/> when given.</summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, Guid? before, CancellationToken cancellationToken);

    /// <summary>The run that is queued or running, if any (in any process).</summary>
    Task<Guid?> FindActiveRunAsync(CancellationToken cancellationToken);

    /// <summary>Flags an active run for cancellation by whichever process runs it; returns the run, or null when unknown.</summary>
    Task<RunRecord?> RequestCancelAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks as failed the runs left queued or running by a process that died, when no process is running one now.
    /// Runs whose record changed less than <paramref name="quietFor"/> ago are left alone: a process that has just rolled
    /// a run back is about to record its end itself. Returns how many were marked.
    /// </summary>
    Task<int> FailAbandonedRunsAsync(string message, DateTimeOffset now, TimeSpan quietFor, CancellationToken cancellationToken);

    /// <summary>The rows a lenient run skipped, in file order, after sequence number <paramref name="after"/>.</summary>
    Task<IReadOnlyList<StoredReject>> ListRejectsAsync(Guid runId, int limit, long after, CancellationToken cancellationToken);

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

/// <summary>
/// A data set being written. Tables are written one after the other; disposing without <see cref="Commit"/>
/// rolls everything back and leaves the previous data set exactly as it was.
/// </summary>
public interface IDataSetLoad : IDisposable
{
    /// <summary>
    /// True when the database derives the features from the loaded rows (Citus, on the workers): the pipeline then keeps
    /// only ids and counts, and <see cref="Commit"/> gets the counts without the per-user rows.
    /// </summary>
    bool DerivesFeatures => false;

    IRowWriter<UserRow> OpenUsers();

    IRowWriter<CompoundRow> OpenCompounds();

    IRowWriter<ExperimentRow> OpenExperiments();

    /// <summary>
    /// Stores the features, the rows a lenient run skipped and the run's record, then makes the whole data set visible at once.
    /// The record's end time is taken from <paramref name="clock"/> after keys and indexes are built, just before the commit.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting for readers to release the tables; the load is then not committed.</param>
    /// <returns>The run record as stored.</returns>
    RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken);
}

/// <summary>Bulk writer for one table. <see cref="Complete"/> must be called before the next table is opened.</summary>
public interface IRowWriter<TRow> : IDisposable
{
    void Write(in TRow row);

    void Complete();
}

/// <summary>A read transaction over the report; users stream from the same snapshot as the summary.</summary>
public interface IReportSnapshot : IAsyncDisposable
{
    ReportSummary? Summary { get; }

    IAsyncEnumerable<UserReport> ReadUsersAsync(CancellationToken cancellationToken);
}
