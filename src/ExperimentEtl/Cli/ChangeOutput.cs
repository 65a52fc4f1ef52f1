using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ExperimentEtl.Model;
using ExperimentEtl.Reporting;

namespace ExperimentEtl.Cli;

/// <summary>
/// What a load changed, as <c>etl</c> shows it: a few lines for a person on stderr, with the summary lines of the run, and a
/// <c>changes</c> property of <c>--json</c>'s report, the JSON of GET /api/etl/runs/{id}/changes.
/// </summary>
static class ChangeOutput
{
    /// <summary>The change in a few lines: the first load's row counts, or each table's counts against the previous load.</summary>
    public static IReadOnlyList<string> Describe(DataSetChange change)
    {
        // No average before means no data set before: the store replaced nothing.
        if (change.AverageExperimentCount.Before is null)
        {
            return [Invariant(
                $"First load: {Count(change.Users.Added, "user")}, {Count(change.Compounds.Added, "compound")}, {Count(change.Experiments.Added, "experiment")} added.")];
        }
        return
        [
            "Since the previous load" + (change.PreviousRunId is { } previous ? $" (run {previous})" : "") + ":",
            Counts("users:      ", change.Users),
            Counts("compounds:  ", change.Compounds),
            Counts("experiments:", change.Experiments),
            Invariant($"  favourite compound changed for {Count(change.FavCompoundChanged, "user")}, experiment count for {Count(change.CountChanged, "user")}"),
            $"  average experiments per user: {Average(change.AverageExperimentCount.Before)} -> {Average(change.AverageExperimentCount.After)}",
        ];
    }

    /// <summary>
    /// The report's JSON settings, adding <c>changes</c> after the properties of GET /report: the report stays what that
    /// answers (a script reading it is unaffected), and the change is written with the same settings as the API's.
    /// </summary>
    public static JsonSerializerOptions WithChanges(JsonSerializerOptions json, DataSetChange? change)
    {
        var resolver = (json.TypeInfoResolver ?? new DefaultJsonTypeInfoResolver()).WithAddedModifier(type =>
        {
            if (type.Type == typeof(ReportResponse))
            {
                var property = type.CreateJsonPropertyInfo(typeof(DataSetChange), json.PropertyNamingPolicy?.ConvertName("Changes") ?? "Changes");
                property.Get = _ => change;
                type.Properties.Add(property);
            }
        });
        return new JsonSerializerOptions(json) { TypeInfoResolver = resolver };
    }

    static string Counts(string table, ChangeCounts counts) => Invariant(
        $"  {table} {counts.Added,6:N0} added, {counts.Removed,6:N0} removed, {counts.Changed,6:N0} changed, {counts.Unchanged,9:N0} unchanged");

    static string Count(long count, string noun) => Invariant($"{count:N0} {noun}{(count == 1 ? "" : "s")}");

    static string Average(double? value) => value?.ToString("0.###", CultureInfo.InvariantCulture) ?? "none";

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
