namespace ExperimentEtl.Pipeline;

/// <summary>The abandoned-run sweeper: runs left queued or running by a process that died end as failed.</summary>
public sealed partial class RunManager
{
    // How often runs of dead processes are looked for, and how long a record must have been left alone to count as one.
    static readonly TimeSpan AbandonedRunSweepInterval = TimeSpan.FromSeconds(2);
    static readonly TimeSpan AbandonedRunQuietTime = TimeSpan.FromSeconds(2);
    const string AbandonedRunMessage = "The server running it stopped during the run; nothing of it was loaded and the previous data is unchanged.";

    /// <summary>
    /// Marks as failed the runs left queued or running by a process that died: once before serving where this process
    /// has the database to itself (SQLite), and every few seconds for as long as it lives where several processes share
    /// it (a replica may die at any time, and its database session may hold the load lock a little longer than the
    /// process lived).
    /// </summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!store.SharedByProcesses)
        {
            await SweepAbandonedRunsAsync(TimeSpan.Zero, cancellationToken);
            return;
        }
        _sweeping = Task.Run(() => SweepRepeatedlyAsync(_stopping.Token), CancellationToken.None);
    }

    Task? _sweeping;

    async Task SweepRepeatedlyAsync(CancellationToken stopping)
    {
        // The first sweep, at start-up, finds no run of this process: nothing needs to have been quiet for long.
        var quietFor = TimeSpan.Zero;
        while (!stopping.IsCancellationRequested)
        {
            // This process's own run holds the load lock: while it lasts, no other run can be live or be swept.
            if (_active is null && _starting is null)
            {
                await SweepAbandonedRunsAsync(quietFor, stopping);
            }
            quietFor = AbandonedRunQuietTime;
            try
            {
                await Task.Delay(AbandonedRunSweepInterval, clock, stopping);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    async Task SweepAbandonedRunsAsync(TimeSpan quietFor, CancellationToken cancellationToken)
    {
        try
        {
            if (await store.FailAbandonedRunsAsync(AbandonedRunMessage, clock.GetUtcNow(), quietFor, cancellationToken) is > 0 and var failed)
            {
                LogAbandoned(failed);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // The database is down or not set up yet: the next sweep (or start) tries again.
            LogSweepFailed(e);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Marked {Count} run(s) left running by a stopped server as failed")]
    partial void LogAbandoned(int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not look for runs left running by a stopped server")]
    partial void LogSweepFailed(Exception exception);
}
