namespace ExperimentEtl.Model;

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
