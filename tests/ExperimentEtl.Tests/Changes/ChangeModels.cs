using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace ExperimentEtl.Tests.Changes;

// The expected change, in the shapes the service's change API answers once serialised with ChangeJson.Options
// (snake_case, dates yyyy-MM-dd).

public sealed record ChangeCounts(int Added, int Removed, int Changed, int Unchanged);

public sealed record AverageChange(double? Before, double After);

public sealed record ChangeSummary(
    ChangeCounts Users,
    ChangeCounts Compounds,
    ChangeCounts Experiments,
    int FavCompoundChanged,
    int CountChanged,
    AverageChange AverageExperimentCount);

public sealed record UserState(string Name, string Email, DateOnly SignupDate, int ExperimentCount, int? FavCompoundId, string? FavCompoundName);

public sealed record UserChange(int UserId, UserState? Before, UserState? After);

public sealed record CompoundState(string Name, string Structure);

public sealed record CompoundChange(int CompoundId, CompoundState? Before, CompoundState? After);

/// <param name="CompoundIds">Distinct, ascending.</param>
public sealed record ExperimentState(int UserId, IReadOnlyList<int> CompoundIds, int RunTime);

public sealed record ExperimentChange(int ExperimentId, ExperimentState? Before, ExperimentState? After);

/// <summary>The lists of one entity, by kind (added, removed, changed, and for users fav_compound_changed, count_changed), each ordered by id.</summary>
public sealed class ChangeLists<T>(IReadOnlyDictionary<string, IReadOnlyList<T>> byKind)
{
    public IReadOnlyCollection<string> Kinds => [.. byKind.Keys];

    /// <summary>The entries of a kind as the API names it; throws for a kind this entity does not have.</summary>
    public IReadOnlyList<T> this[string kind] =>
        byKind.TryGetValue(kind, out var list) ? list : throw new ArgumentException($"no kind '{kind}' (kinds: {string.Join(", ", byKind.Keys)})", nameof(kind));
}

/// <summary>What a load is expected to record against the previous successful load.</summary>
public sealed record ExpectedChange(
    ChangeSummary Summary,
    ChangeLists<UserChange> Users,
    ChangeLists<CompoundChange> Compounds,
    ChangeLists<ExperimentChange> Experiments);

public static class ChangeJson
{
    public static JsonSerializerOptions Options { get; } = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.Never,
    };

    /// <summary>A value as the API's JSON, for <see cref="JsonNode.DeepEquals"/> against an answer.</summary>
    public static JsonNode? ToNode<T>(T value) => JsonSerializer.SerializeToNode(value, Options);
}
