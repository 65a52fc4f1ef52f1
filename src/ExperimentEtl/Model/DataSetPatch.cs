namespace ExperimentEtl.Model;

/// <summary>
/// What a change-only reload writes besides the added and changed rows it streamed: the rows to remove and the
/// features that moved. Applied in place, in one transaction, to the data set the comparison was made against.
/// </summary>
/// <param name="Totals">The new data set's counts (its features are not all here: only those that moved).</param>
/// <param name="Users">
/// The features of every user added, changed, or whose experiments or favourite's name moved; the store writes the
/// favourite's name from its compounds.
/// </param>
/// <param name="FavoritesRewritten">Users whose favourite ties are replaced by <paramref name="Favorites"/> (their experiments moved).</param>
/// <param name="Favorites">The new ties of <paramref name="FavoritesRewritten"/>.</param>
/// <param name="CompoundFeatures">Usage of the compounds whose usage moved or that are used for the first time.</param>
/// <param name="CompoundFeaturesRemoved">Compounds no experiment uses any longer (or that are gone).</param>
public sealed record DataSetPatch(
    DataSetFeatures Totals,
    IReadOnlyList<int> UsersRemoved,
    IReadOnlyList<int> CompoundsRemoved,
    IReadOnlyList<int> ExperimentsRemoved,
    IReadOnlyList<UserFeature> Users,
    IReadOnlyList<int> FavoritesRewritten,
    IReadOnlyList<FavoriteCompound> Favorites,
    IReadOnlyList<CompoundFeature> CompoundFeatures,
    IReadOnlyList<int> CompoundFeaturesRemoved);

/// <summary>The data set a database holds, as its record says: what a comparison state must match to be used.</summary>
public sealed record DataSetIdentity(Guid RunId, long Users, long Compounds, long Experiments);

/// <summary>How a successful load wrote its data set.</summary>
public static class ApplyKinds
{
    /// <summary>Only what changed against the data set the database held.</summary>
    public const string Changes = "changes";

    /// <summary>The whole data set, replacing the one before.</summary>
    public const string Full = "full";
}

/// <summary>
/// Rows a load wrote per table: a full load writes every row of its data set; a change-only reload counts each row it
/// inserted, replaced or deleted once.
/// </summary>
/// <param name="UserFavorites">Null where the database derives the features itself (Citus) and the process does not count them.</param>
/// <param name="CompoundFeatures">Null where the database derives the features itself (Citus).</param>
public sealed record RowsWritten(long Users, long Compounds, long Experiments, long UserFeatures, long? UserFavorites, long? CompoundFeatures)
{
    /// <summary>A full load's: the whole data set.</summary>
    public static RowsWritten Full(DataSetFeatures features) => new(features.UserCount, features.CompoundCount, features.ExperimentCount,
        features.UserCount, features.FavoriteCount, features.FavoriteCount is null ? null : features.Compounds.Count);
}
