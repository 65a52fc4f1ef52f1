using System.Runtime;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Chooses how a run writes its data set: only what changed, when a comparison state of exactly the data set the
/// database holds is at hand and fits the memory budget; the whole data set otherwise. The choice and its reason go
/// into the run's record.
/// </summary>
public sealed class LoadPlanner(IDataSetStore store, ChangeApplySettings settings, MemoryBudget budget)
{
    /// <summary>The comparison state's file, or null where the store has no change-only reloads.</summary>
    public string? StatePath => store.ComparisonStatePath is { } path
        ? settings.StateDirectory is { } directory ? Path.Combine(directory, Path.GetFileName(path)) : path
        : null;

    /// <summary>The comparison state's share of the memory budget: the feature state's is a quarter, and the rest is the process's own.</summary>
    long StateBytes => budget.Bytes / 4;

    /// <summary>Takes the database for a load: change-only when it can be, else full.</summary>
    /// <param name="canReadAgain">Whether the run could read its files a second time, into a full load, past the limit of changes.</param>
    /// <exception cref="RunInProgressException">Another load holds the database.</exception>
    public IDataSetLoad Begin(Func<bool> canReadAgain)
    {
        if (StatePath is not { } path)
        {
            return BeginFull("This database replaces the data set whole on every load (Citus).");
        }
        if (settings.MaxChangedShare <= 0)
        {
            return BeginFull("Change-only reloads are turned off (ETL_APPLY_CHANGES_UP_TO=0).");
        }
        if (ComparisonState.ReadIdentity(path) is not { } identity)
        {
            return BeginFull("No comparison state of the data set in the database was found: a first load, or the state was lost.");
        }
        if (ComparisonState.MemoryFor(path) is { } bytes && bytes > StateBytes)
        {
            return BeginFull($"Comparing with the data set in the database would take {bytes / (1024 * 1024)} MB, more than its share of the memory budget ({StateBytes / (1024 * 1024)} MB of ETL_MEMORY_LIMIT_MB).");
        }
        var patch = store.BeginPatch();
        if (patch is null)
        {
            return BeginFull("This database replaces the data set whole on every load.");
        }
        try
        {
            if (patch.Current != identity)
            {
                var held = patch.Current is { } current ? $"the data set of run {current.RunId} ({current.Users:N0} users, {current.Compounds:N0} compounds, {current.Experiments:N0} experiments)" : "no data set";
                patch.Dispose();
                return BeginFull($"The database holds {held}, not the one of run {identity.RunId} that the comparison state was kept for.");
            }
            // The state is about 100 MB of large arrays at L; the previous run's arrays (its own state, the feature
            // state) are garbage by now, but a process that ran loads one after the other kept them until a full
            // collection came: RSS grew by a state a run (256 MB after a full load, then 498, 571 and 728 MB over three
            // reloads of L in the embedded default). Collected here, once a run.
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
            var state = ComparisonState.Read(path);
            if (state is null)
            {
                patch.Dispose();
                return BeginFull("The comparison state could not be read.");
            }
            var rows = identity.Users + identity.Compounds + identity.Experiments;
            if (TryCreate(path) is not { } next)
            {
                patch.Dispose();
                return BeginFull($"The comparison state's folder cannot be written ({Path.GetDirectoryName(path)}).");
            }
            return new ChangesOnlyLoad(patch, state, next, (long)(settings.MaxChangedShare * rows), canReadAgain);
        }
        catch
        {
            patch.Dispose();
            throw;
        }
    }

    /// <summary>A new state file; null when its folder cannot be written (the load goes on, and the next one is full).</summary>
    static ComparisonState.Writer? TryCreate(string path)
    {
        try
        {
            return ComparisonState.Create(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Takes the database for a full load, which also keeps the comparison state for the next reload.</summary>
    public IDataSetLoad BeginFull(string reason)
    {
        var load = store.BeginLoad();
        try
        {
            return new StateRecordingLoad(load, StatePath is { } path && settings.MaxChangedShare > 0 ? TryCreate(path) : null, reason);
        }
        catch
        {
            load.Dispose();
            throw;
        }
    }
}
