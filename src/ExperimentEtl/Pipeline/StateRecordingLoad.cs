using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// A full load that also writes the comparison state of the data set it loads, for the next reload to compare with;
/// and says in its record that it was applied in full, why, and how many rows it wrote.
/// </summary>
sealed class StateRecordingLoad(IDataSetLoad inner, ComparisonState.Writer? state, string reason) : IDataSetLoad
{
    public bool DerivesFeatures => inner.DerivesFeatures;

    public IRowWriter<UserRow> OpenUsers() => inner.OpenUsers();

    public IRowWriter<CompoundRow> OpenCompounds() => state is null
        ? inner.OpenCompounds()
        : new RecordingWriter<CompoundRow>(inner.OpenCompounds(), row => state.AddCompound(row.CompoundId, RowFingerprints.Compound(row)));

    public IRowWriter<ExperimentRow> OpenExperiments() => state is null
        ? inner.OpenExperiments()
        : new RecordingWriter<ExperimentRow>(inner.OpenExperiments(), row => state.AddExperiment(row.ExperimentId, RowFingerprints.StoredExperiment(row)));

    public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        state?.AddFeatures(features);
        var stored = inner.Commit(features, run with
        {
            Apply = ApplyKinds.Full,
            ApplyReason = reason,
            RowsWritten = RowsWritten.Full(features),
        }, rejects, clock, cancellationToken);
        Publish(state, stored.RunId);
        return stored;
    }

    /// <summary>Moves a committed load's state into place; if that fails, the next run finds no state that matches and loads in full.</summary>
    internal static void Publish(ComparisonState.Writer? state, Guid runId)
    {
        try
        {
            state?.Publish(runId);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }

    public void Dispose()
    {
        inner.Dispose();
        state?.Dispose();
    }

    /// <summary>Records each row's fingerprint, then passes it on; runs on the table's writer thread.</summary>
    sealed class RecordingWriter<TRow>(IRowWriter<TRow> inner, Action<TRow> record) : IRowWriter<TRow>
    {
        public void Write(in TRow row)
        {
            record(row);
            inner.Write(row);
        }

        public void Complete() => inner.Complete();

        public void Dispose() => inner.Dispose();
    }
}
