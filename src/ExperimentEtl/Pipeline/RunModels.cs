using ExperimentEtl.Csv;

namespace ExperimentEtl.Pipeline;

public static class RunStatus
{
    public const string Running = "running";
    public const string Succeeded = "succeeded";
    public const string Failed = "failed";
}

/// <summary>What a run did with one input file.</summary>
public sealed record FileStats(string File, long RowsRead, long RowsLoaded, long BytesRead);

/// <summary>A run as it is stored and reported.</summary>
public sealed record RunRecord(
    Guid RunId,
    string Status,
    DateTimeOffset StartedAt,
    DateTimeOffset? FinishedAt,
    IReadOnlyList<FileStats> Files,
    long ErrorCount,
    string? Message)
{
    public double? DurationSeconds => FinishedAt is { } finished ? Math.Round((finished - StartedAt).TotalSeconds, 3) : null;

    public static RunRecord Start(DateTimeOffset now) => new(Guid.CreateVersion7(now), RunStatus.Running, now, null, [], 0, null);
}

/// <summary>The end of a run: the record, and the input errors when the input was rejected.</summary>
public sealed record RunOutcome(RunRecord Run, IReadOnlyList<RowError> Errors)
{
    public bool Succeeded => Run.Status == RunStatus.Succeeded;
}

/// <summary>Thrown when another run holds the database (in this process or, on PostgreSQL, in another one).</summary>
public sealed class RunInProgressException() : Exception("Another ETL run is in progress; try again when it has finished.");
