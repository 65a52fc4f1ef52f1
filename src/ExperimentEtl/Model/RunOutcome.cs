namespace ExperimentEtl.Model;

/// <summary>The end of a run: the record, the input errors when the input was rejected, and what failed otherwise.</summary>
public sealed record RunOutcome(RunRecord Run, IReadOnlyList<RowError> Errors, Exception? Failure = null)
{
    public bool Succeeded => Run.Status == RunStatus.Succeeded;

    /// <summary>The input was invalid (not the database, not a cancellation).</summary>
    public bool InvalidInput => Run.Status == RunStatus.Failed && Failure is null && Run.ErrorCount > 0;
}
