namespace ExperimentEtl.Pipeline;

/// <summary>The progress publisher: where processes share the database, a run's stored record follows its progress.</summary>
public sealed partial class RunManager
{
    static readonly TimeSpan ProgressSaveInterval = TimeSpan.FromSeconds(1);

    /// <summary>Keeps the stored record's progress current for other processes, and picks up their cancel requests.</summary>
    async Task SaveProgressAsync(ActiveRun active, CancellationToken stop)
    {
        try
        {
            while (!stop.IsCancellationRequested)
            {
                await Task.Delay(ProgressSaveInterval, clock, stop);
                if (await store.SaveRunProgressAsync(active.Run, stop))
                {
                    await active.Cancellation.CancelAsync();
                }
            }
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
        catch (Exception e)
        {
            // The load itself will meet the same database problem and fail the run with it.
            LogProgressFailed(e, active.RunId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not save the progress of run {RunId}")]
    partial void LogProgressFailed(Exception exception, Guid runId);
}
