using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>Runs the ETL one run at a time and keeps each run's record, whatever happens to the run.</summary>
public sealed partial class EtlService(IEtlStore store, TimeProvider clock, ILogger<EtlService> logger) : IDisposable
{
    // One run at a time in this process; the store adds a database-wide lock (PostgreSQL) for other processes.
    readonly SemaphoreSlim _gate = new(1, 1);

    /// <summary>Runs a whole ETL over <paramref name="source"/> and returns when it has committed or failed.</summary>
    /// <exception cref="RunInProgressException">Another run holds the database.</exception>
    public async Task<RunOutcome> RunAsync(DataSetSource source, CancellationToken cancellationToken)
    {
        if (!_gate.Wait(0, CancellationToken.None))
        {
            throw new RunInProgressException();
        }
        try
        {
            // Parsing and loading are synchronous and CPU-bound: keep them off the request thread.
            return await Task.Run(() => RunExclusiveAsync(source, cancellationToken), cancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    async Task<RunOutcome> RunExclusiveAsync(DataSetSource source, CancellationToken cancellationToken)
    {
        using var load = store.BeginLoad();
        var run = RunRecord.Start(clock.GetUtcNow());
        await store.SaveRunAsync(run, cancellationToken);
        LogRunStarted(run.RunId, store.Provider);
        try
        {
            var outcome = EtlPipeline.Execute(source, load, run, clock, cancellationToken);
            if (!outcome.Succeeded)
            {
                load.Dispose(); // Roll back before the record says so.
                await store.SaveRunAsync(outcome.Run, CancellationToken.None);
            }
            LogRunEnded(run.RunId, outcome.Run.Status, outcome.Run.DurationSeconds, outcome.Run.ErrorCount);
            return outcome;
        }
        catch (Exception e)
        {
            load.Dispose();
            var failed = run with
            {
                Status = RunStatus.Failed,
                FinishedAt = clock.GetUtcNow(),
                Message = e is OperationCanceledException ? "The run was cancelled; nothing was loaded." : $"The run failed; nothing was loaded: {e.Message}",
            };
            LogRunFailed(e, run.RunId);
            await TrySaveAsync(failed);
            throw;
        }
    }

    async Task TrySaveAsync(RunRecord run)
    {
        try
        {
            await store.SaveRunAsync(run, CancellationToken.None);
        }
        catch (Exception e)
        {
            // The database may be the reason the run failed; the run's failure is what the caller must hear about.
            LogRecordFailed(e, run.RunId);
        }
    }

    public void Dispose() => _gate.Dispose();

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on {Provider}")]
    partial void LogRunStarted(Guid runId, string provider);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} {Status} in {Seconds} s with {ErrorCount} input error(s)")]
    partial void LogRunEnded(Guid runId, string status, double? seconds, long errorCount);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} failed")]
    partial void LogRunFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the end of run {RunId}")]
    partial void LogRecordFailed(Exception exception, Guid runId);
}
