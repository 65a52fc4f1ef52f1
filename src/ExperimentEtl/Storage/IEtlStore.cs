using ExperimentEtl.Csv;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Storage;

/// <summary>A database the service loads data sets into and reports from. SQL lives in the implementations.</summary>
public interface IEtlStore
{
    /// <summary>"sqlite" or "postgresql", as shown in health and run answers.</summary>
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

    /// <summary>Opens a consistent snapshot of the current report: summary and users from the same data set.</summary>
    Task<IReportSnapshot> OpenReportAsync(CancellationToken cancellationToken);
}

/// <summary>
/// A data set being written. Tables are written one after the other; disposing without <see cref="Commit"/>
/// rolls everything back and leaves the previous data set exactly as it was.
/// </summary>
public interface IDataSetLoad : IDisposable
{
    IRowWriter<UserRow> OpenUsers();

    IRowWriter<CompoundRow> OpenCompounds();

    IRowWriter<ExperimentRow> OpenExperiments();

    /// <summary>Stores the features and the finished run record, then makes the whole data set visible at once.</summary>
    void Commit(DataSetFeatures features, RunRecord run);
}

/// <summary>Bulk writer for one table. <see cref="Complete"/> must be called before the next table is opened.</summary>
public interface IRowWriter<TRow> : IDisposable
{
    void Write(in TRow row);

    void Complete();
}

/// <summary>One user's line of the report.</summary>
public sealed record UserReport(int UserId, string Name, string Email, int Count, string? FavCompound, int? FavCompoundId);

/// <summary>The data set's headline figures; null before any run has loaded data.</summary>
public sealed record ReportSummary(long Users, long Experiments, long Compounds, long ActiveUsers, Guid? RunId, DateTimeOffset LoadedAt);

/// <summary>A read transaction over the report; users stream from the same snapshot as the summary.</summary>
public interface IReportSnapshot : IAsyncDisposable
{
    ReportSummary? Summary { get; }

    IAsyncEnumerable<UserReport> ReadUsersAsync(CancellationToken cancellationToken);
}
