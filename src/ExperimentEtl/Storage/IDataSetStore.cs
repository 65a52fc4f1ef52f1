using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>A database the service loads data sets into: its schema and its loads. SQL lives in the implementations.</summary>
public interface IDataSetStore
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

    /// <summary>
    /// Starts a change-only reload of the data set the database holds, or null where the store always replaces the
    /// data set whole (Citus). Throws <see cref="RunInProgressException"/> when another load holds the database.
    /// </summary>
    IDataSetPatch? BeginPatch() => null;

    /// <summary>
    /// Where the comparison state of this database's data set is kept by default (a file name unique to the database,
    /// in a folder of its own); null where the store has no change-only reloads.
    /// </summary>
    string? ComparisonStatePath => null;
}
