using System.Text.Json.Serialization;

namespace ExperimentEtl.Model;

/// <summary>A run as it is stored and reported.</summary>
public sealed record RunRecord(
    Guid RunId,
    string Status,
    RunMode Mode,
    string Source,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<FileStats> Files,
    long ErrorCount,
    IReadOnlyList<RowError> Errors,
    long RejectedCount,
    string? Message)
{
    public double? DurationSeconds => FinishedAt is { } finished ? Math.Round((finished - StartedAt).TotalSeconds, 3) : null;

    /// <summary>
    /// Bytes read of all the input's bytes, 0 to 1; 1 once the run has ended. Where the input's size is not known
    /// (another server's run, a pipe), of the bytes of the files started so far.
    /// </summary>
    public double Progress
    {
        get
        {
            if (!RunStatus.IsActive(Status))
            {
                return 1;
            }
            var total = Math.Max(InputBytes, Files.Sum(f => f.BytesTotal));
            return total == 0 ? 0 : Math.Round((double)Files.Sum(f => f.BytesRead) / total, 4);
        }
    }

    /// <summary>
    /// The three files' sizes together, when known at the start (kept in this process only): without it, progress
    /// reached 100 % at the end of users.csv, then fell back when the next file started.
    /// </summary>
    [JsonIgnore]
    public long InputBytes { get; init; }

    /// <summary>
    /// The database kind the run loaded into: "sqlite", "postgresql" or "citus". Not stored: the runs table lives in that
    /// database, so it is the store's own kind, given by the store that reads the record.
    /// </summary>
    public string? Provider { get; init; }

    /// <summary>
    /// How a successful load wrote its data set: <see cref="ApplyKinds.Changes"/> (only what changed, in place) or
    /// <see cref="ApplyKinds.Full"/> (the whole data set); null for a run that loaded nothing.
    /// </summary>
    public string? Apply { get; init; }

    /// <summary>Why the load was applied as it was, in a sentence (for example why a reload was not change-only).</summary>
    public string? ApplyReason { get; init; }

    /// <summary>Rows the load wrote per table; null for a run that loaded nothing.</summary>
    public RowsWritten? RowsWritten { get; init; }

    /// <summary>What a successful load changed, as the load computed it (kept in this process; the API reads it from the history).</summary>
    [JsonIgnore]
    public DataSetChange? Changes { get; init; }

    public static RunRecord Queue(DateTimeOffset now, RunMode mode, string source) =>
        new(Guid.CreateVersion7(now), RunStatus.Queued, mode, source, now, null, [], 0, [], 0, null);

    [JsonIgnore]
    public bool IsActive => RunStatus.IsActive(Status);
}
