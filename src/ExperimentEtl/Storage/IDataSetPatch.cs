using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>
/// A change-only reload: the rows added or changed, then the rows removed and the features that moved, applied in
/// place to the data set the database holds, in one transaction; readers see the data set before or after it whole.
/// Holds the database's load lock from the start, as a load does.
/// </summary>
public interface IDataSetPatch : IDisposable
{
    /// <summary>The data set the database holds, read under the load lock: the patch applies to it and to nothing else.</summary>
    DataSetIdentity? Current { get; }

    /// <summary>Users added or changed: each replaces the row with its id, if any.</summary>
    IRowWriter<UserRow> OpenUsers();

    IRowWriter<CompoundRow> OpenCompounds();

    IRowWriter<ExperimentRow> OpenExperiments();

    /// <summary>
    /// Removes the rows the patch names, writes its features and the record, computes the change lists from the rows
    /// replaced and their replacements, and commits.
    /// </summary>
    /// <returns>The run record as stored, with the rows written per table.</returns>
    RunRecord Commit(DataSetPatch patch, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken);
}
