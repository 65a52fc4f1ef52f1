namespace ExperimentEtl.Pipeline;

/// <summary>How the rows of one table compare with the previous data set's, matched by id.</summary>
public sealed record ChangeCounts(long Added, long Removed, long Changed, long Unchanged);

/// <summary>The average number of experiments per user before and after a load; before is null for a first load.</summary>
public sealed record AverageChange(double? Before, double? After);

/// <summary>What a successful load changed against the data set it replaced (the previous successful load's).</summary>
/// <param name="PreviousRunId">The run that loaded the replaced data set; null for the first load into an empty database.</param>
/// <param name="FavCompoundChanged">Users present before and after whose favourite compound differs.</param>
/// <param name="CountChanged">Users present before and after whose experiment count differs.</param>
public sealed record DataSetChange(
    Guid RunId,
    Guid? PreviousRunId,
    ChangeCounts Users,
    ChangeCounts Compounds,
    ChangeCounts Experiments,
    long FavCompoundChanged,
    long CountChanged,
    AverageChange AverageExperimentCount);

/// <summary>How many change rows a load keeps, and for how many loads.</summary>
/// <param name="ListLimit">
/// A table's change list is kept when it has at most this many rows (<c>ETL_CHANGE_LIST_LIMIT</c>); beyond it only the
/// counts are: a list as long as the data set (a first load, an export with new ids) would double the load's writes.
/// </param>
/// <param name="KeptLoads">The lists of this many most recent loads are kept (<c>ETL_CHANGE_LISTS_KEPT</c>); the counts always.</param>
public sealed record ChangeListSettings(int ListLimit = 100_000, int KeptLoads = 20)
{
    public static readonly ChangeListSettings Default = new();
}
