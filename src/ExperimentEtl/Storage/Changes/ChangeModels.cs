using ExperimentEtl.Model;

namespace ExperimentEtl.Storage.Changes;

/// <summary>The tables a change is listed for, and the kinds of change each lists.</summary>
public static class ChangeKinds
{
    public const string Added = "added";
    public const string Removed = "removed";
    public const string Changed = "changed";
    public const string FavCompoundChanged = "fav_compound_changed";
    public const string CountChanged = "count_changed";

    public static readonly IReadOnlyList<string> Rows = [Added, Removed, Changed];

    public static readonly IReadOnlyList<string> Users = [Added, Removed, Changed, FavCompoundChanged, CountChanged];
}

/// <summary>A user as stored, with their features.</summary>
public sealed record UserValues(string Name, string Email, DateOnly SignupDate, int ExperimentCount, int? FavCompoundId, string? FavCompoundName);

public sealed record UserChange(int UserId, UserValues? Before, UserValues? After);

public sealed record CompoundValues(string Name, string Structure);

public sealed record CompoundChange(int CompoundId, CompoundValues? Before, CompoundValues? After);

/// <param name="CompoundIds">The distinct compound ids, ascending.</param>
public sealed record ExperimentValues(int UserId, IReadOnlyList<int> CompoundIds, int RunTime);

public sealed record ExperimentChange(int ExperimentId, ExperimentValues? Before, ExperimentValues? After);

/// <summary>The change counts of one load, as kept in its history.</summary>
public sealed record LoadChanges(ChangeCounts Users, ChangeCounts Compounds, ChangeCounts Experiments, long FavCompoundChanged, long CountChanged);

/// <summary>One successful load in the history of the data set.</summary>
/// <param name="Unlisted">The tables whose change lists were not kept: more rows changed than the list limit.</param>
public sealed record LoadHistoryEntry(
    Guid RunId,
    Guid? PreviousRunId,
    DateTimeOffset LoadedAt,
    long Users,
    long Compounds,
    long Experiments,
    long ActiveUsers,
    double AverageExperimentCount,
    double AverageExperimentCountActiveUsers,
    LoadChanges Changes,
    IReadOnlyList<string> Unlisted);
