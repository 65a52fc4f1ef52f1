namespace ExperimentEtl.Model;

/// <summary>Everything a run derives from the data, ready to be stored beside it.</summary>
/// <remarks>
/// Read while the feature accumulator that built it is alive: the favourites are streamed from its pair
/// state (which may be on disk), never held in a list.
/// </remarks>
public sealed class DataSetFeatures(
    long userCount,
    long compoundCount,
    long experimentCount,
    long activeUserCount,
    IReadOnlyList<UserFeature> users,
    IEnumerable<FavoriteCompound> favorites,
    IReadOnlyList<CompoundFeature> compounds)
{
    public long UserCount { get; } = userCount;

    public long CompoundCount { get; } = compoundCount;

    public long ExperimentCount { get; } = experimentCount;

    /// <summary>Users with at least one experiment.</summary>
    public long ActiveUserCount { get; } = activeUserCount;

    /// <summary>In the order the users were read.</summary>
    public IReadOnlyList<UserFeature> Users { get; } = users;

    /// <summary>Every compound tied for each user's favourite (the favourite itself included), in the users' order, then by compound id.</summary>
    public IEnumerable<FavoriteCompound> Favorites { get; } = favorites;

    /// <summary>How many rows <see cref="Favorites"/> holds; null where the database derives the features (Citus).</summary>
    public long? FavoriteCount { get; init; }

    /// <summary>Usage of the compounds that experiments listed, by compound id; unused compounds are absent.</summary>
    public IReadOnlyList<CompoundFeature> Compounds { get; } = compounds;
}
