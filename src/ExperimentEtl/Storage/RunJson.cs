using System.Text.Json;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>A run's per-file figures and first errors are kept as JSON columns: they are only ever read back whole.</summary>
static class RunJson
{
    static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string Files(RunRecord run) => JsonSerializer.Serialize(run.Files, Options);

    public static string Errors(RunRecord run) => JsonSerializer.Serialize(run.Errors, Options);

    public static IReadOnlyList<FileStats> ReadFiles(string json) => JsonSerializer.Deserialize<List<FileStats>>(json, Options) ?? [];

    public static IReadOnlyList<RowError> ReadErrors(string json) => JsonSerializer.Deserialize<List<RowError>>(json, Options) ?? [];

    sealed record Applied(string Apply, string? Reason, RowsWritten? RowsWritten);

    /// <summary>How a successful load wrote its data set, as one JSON value; null for a run that loaded nothing.</summary>
    public static string? Apply(RunRecord run) =>
        run.Apply is { } apply ? JsonSerializer.Serialize(new Applied(apply, run.ApplyReason, run.RowsWritten), Options) : null;

    /// <summary>The run with how it was applied, read back from <see cref="Apply(RunRecord)"/>'s JSON.</summary>
    public static RunRecord WithApply(RunRecord run, string? json) => json is null || JsonSerializer.Deserialize<Applied>(json, Options) is not { } applied
        ? run
        : run with { Apply = applied.Apply, ApplyReason = applied.Reason, RowsWritten = applied.RowsWritten };

    public static string Mode(RunMode mode) => mode == RunMode.Lenient ? "lenient" : "strict";

    public static RunMode ReadMode(string mode) => mode == "lenient" ? RunMode.Lenient : RunMode.Strict;
}

/// <summary>Runs' columns in the order both stores select them, and the one place that reads them back.</summary>
static class RunColumns
{
    public const string List = "run_id, status, mode, source, started_at, finished_at, files, error_count, errors, rejected_count, message, applied";

    public static RunRecord Read(System.Data.Common.DbDataReader r, Func<int, Guid> guid, Func<int, DateTimeOffset> time) => RunJson.WithApply(new(
        guid(0), r.GetString(1), RunJson.ReadMode(r.GetString(2)), r.GetString(3), time(4), r.IsDBNull(5) ? null : time(5),
        RunJson.ReadFiles(r.GetString(6)), r.GetInt64(7), RunJson.ReadErrors(r.GetString(8)), r.GetInt64(9),
        r.IsDBNull(10) ? null : r.GetString(10)), r.IsDBNull(11) ? null : r.GetString(11));
}
