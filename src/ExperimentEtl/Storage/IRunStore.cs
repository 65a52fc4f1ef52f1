using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>The runs' records, progress and cancellation, and the rows lenient runs skipped, kept beside the data set.</summary>
public interface IRunStore
{
    /// <summary>Inserts or updates a run's record outside any load, so that it outlives a rolled-back load.</summary>
    Task SaveRunAsync(RunRecord run, CancellationToken cancellationToken);

    /// <summary>
    /// True when several server processes may share the database and its runs (PostgreSQL): a running run's progress is
    /// then saved for the others to show, and runs of a process that died are looked for all the time, not only at
    /// start-up. SQLite is used by one process with one writer at a time, so there progress is only kept in the process.
    /// </summary>
    bool SharedByProcesses { get; }

    /// <summary>Saves a running run's progress; returns true when someone asked for the run to be cancelled.</summary>
    Task<bool> SaveRunProgressAsync(RunRecord run, CancellationToken cancellationToken);

    Task<RunRecord?> GetRunAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>Runs newest first, starting after <paramref name="before"/> when given.</summary>
    Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, Guid? before, CancellationToken cancellationToken);

    /// <summary>The run that is queued or running, if any (in any process).</summary>
    Task<Guid?> FindActiveRunAsync(CancellationToken cancellationToken);

    /// <summary>Flags an active run for cancellation by whichever process runs it; returns the run, or null when unknown.</summary>
    Task<RunRecord?> RequestCancelAsync(Guid runId, CancellationToken cancellationToken);

    /// <summary>
    /// Marks as failed the runs left queued or running by a process that died, when no process is running one now.
    /// Runs whose record changed less than <paramref name="quietFor"/> ago are left alone: a process that has just rolled
    /// a run back is about to record its end itself. Returns how many were marked.
    /// </summary>
    Task<int> FailAbandonedRunsAsync(string message, DateTimeOffset now, TimeSpan quietFor, CancellationToken cancellationToken);

    /// <summary>The rows a lenient run skipped, in file order, after sequence number <paramref name="after"/>.</summary>
    Task<IReadOnlyList<StoredReject>> ListRejectsAsync(Guid runId, int limit, long after, CancellationToken cancellationToken);
}
