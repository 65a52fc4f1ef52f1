using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

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
