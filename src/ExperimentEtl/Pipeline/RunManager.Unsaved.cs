using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>Final records the database refused, kept in memory and saved again before the next run starts.</summary>
public sealed partial class RunManager
{
    // Final records the database refused (it was down when the run ended): shown from memory and saved again later.
    readonly System.Collections.Concurrent.ConcurrentDictionary<Guid, RunRecord> _unsaved = new();

    async Task TrySaveAsync(RunRecord run)
    {
        try
        {
            await store.SaveRunAsync(run, CancellationToken.None);
            _unsaved.TryRemove(run.RunId, out _);
        }
        catch (Exception e)
        {
            // The database may be why the run failed: keep the record and save it once the database is back.
            _unsaved[run.RunId] = run;
            LogRecordFailed(e, run.RunId);
        }
    }

    async Task SaveUnsavedAsync()
    {
        foreach (var run in _unsaved.Values)
        {
            await TrySaveAsync(run);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not record the end of run {RunId}")]
    partial void LogRecordFailed(Exception exception, Guid runId);
}
