namespace ExperimentEtl.Model;

/// <summary>
/// A change-only reload found that it cannot, or should not, finish: nothing of it is committed, and the run reads the
/// files again into a full load, whose record gives this reason.
/// </summary>
public sealed class FullLoadNeededException(string reason) : Exception(reason)
{
    public static FullLoadNeededException TooManyChanges(long limit) =>
        new($"More than {limit:N0} rows changed (ETL_APPLY_CHANGES_UP_TO of the data set's rows): past that share a full load is cheaper than writing the changes.");
}
