using System.Text.Json.Serialization;
using ExperimentEtl.Csv;

namespace ExperimentEtl.Pipeline;

public static class RunStatus
{
    public const string Queued = "queued";
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
    public const string Cancelled = "cancelled";

    public static readonly IReadOnlyList<string> All = [Queued, Running, Succeeded, Failed, Cancelled];

    public static bool IsActive(string status) => status is Queued or Running;
}

/// <summary>Where a run's files came from.</summary>
public static class RunSource
{
    public const string DataFolder = "data_folder";
    public const string Upload = "upload";
}

/// <summary>What a run did with one input file; while it runs, also its progress.</summary>
public sealed record FileStats(string File, long RowsRead, long RowsLoaded, long RowsRejected, long BytesRead, long BytesTotal);

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

    /// <summary>What a successful load changed, as the load computed it (kept in this process; the API reads it from the history).</summary>
    [JsonIgnore]
    public DataSetChange? Changes { get; init; }

    public static RunRecord Queue(DateTimeOffset now, RunMode mode, string source) =>
        new(Guid.CreateVersion7(now), RunStatus.Queued, mode, source, now, null, [], 0, [], 0, null);

    [JsonIgnore]
    public bool IsActive => RunStatus.IsActive(Status);
}

/// <summary>The end of a run: the record, the input errors when the input was rejected, and what failed otherwise.</summary>
public sealed record RunOutcome(RunRecord Run, IReadOnlyList<RowError> Errors, Exception? Failure = null)
{
    public bool Succeeded => Run.Status == RunStatus.Succeeded;

    /// <summary>The input was invalid (not the database, not a cancellation).</summary>
    public bool InvalidInput => Run.Status == RunStatus.Failed && Failure is null && Run.ErrorCount > 0;
}

/// <summary>Thrown when another run holds the database (in this process or, on PostgreSQL, in another one).</summary>
public sealed class RunInProgressException(Guid? runningRunId = null)
    : Exception("Another ETL run is in progress; try again when it has finished.")
{
    public Guid? RunningRunId { get; } = runningRunId;
}
