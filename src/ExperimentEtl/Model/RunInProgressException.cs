namespace ExperimentEtl.Model;

/// <summary>Thrown when another run holds the database (in this process or, on PostgreSQL, in another one).</summary>
public sealed class RunInProgressException(Guid? runningRunId = null)
    : Exception("Another ETL run is in progress; try again when it has finished.")
{
    public Guid? RunningRunId { get; } = runningRunId;
}
