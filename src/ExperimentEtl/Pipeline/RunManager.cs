using ExperimentEtl.Configuration;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Starts runs one at a time, executes them in the background, keeps their records current, and cancels them on request
/// or at shutdown. Whatever happens to a run, its record ends as succeeded, failed or cancelled.
/// </summary>
/// <remarks>
/// This file starts, executes and cancels runs; RunManager.Sweeper.cs ends the runs of dead processes,
/// RunManager.Progress.cs publishes a run's progress to other processes, RunManager.Unsaved.cs retries final records
/// the database refused.
/// </remarks>
public sealed partial class RunManager(IEtlStore store, EtlOptions options, TimeProvider clock, ILogger<RunManager> logger) : IHostedService, IDisposable
{
    static readonly TimeSpan ShutdownPatience = TimeSpan.FromSeconds(8);

    // How long a start that found the database taken waits for the other process to record its run, so as to name it.
    // That process takes the load lock before it records its run, and on Citus prepares its generation in between
    // (dropping the old one, creating distributed tables): seconds on a busy cluster, longer than the 2 s this was.
    static readonly TimeSpan RivalRecordPatience = TimeSpan.FromSeconds(10);

    // One run at a time in this process; the store's load lock (PostgreSQL) extends that to other processes.
    readonly SemaphoreSlim _gate = new(1, 1);
    readonly CancellationTokenSource _stopping = new();
    readonly LoadPlanner _loads = new(store, options.ChangeApply, options.MemoryBudget);
    volatile ActiveRun? _active;

    // The run being started (between taking the gate and becoming active): while it is, the sweeper leaves runs alone.
    volatile RunRecord? _starting;
    readonly Lock _startLock = new();

    // The run that holds the database, as known to the start that took the gate: its own run once recorded, the other
    // process's when it lost the load lock. A start refused by the gate names this one, not the run still being started,
    // which may yet lose the database to another process and never run.
    Task<Guid?> _holder = Task.FromResult<Guid?>(null);

    // The run holding the gate has ended (its end recorded) and is disposing its load: a start waits for it.
    volatile bool _cleaningUp;
    static readonly TimeSpan CleanupPatience = TimeSpan.FromSeconds(30);

    /// <summary>A run this process is executing.</summary>
    public sealed class ActiveRun(RunRecord run, CancellationToken stopping)
    {
        volatile RunRecord _run = run;

        internal CancellationTokenSource Cancellation { get; } = CancellationTokenSource.CreateLinkedTokenSource(stopping);

        public Guid RunId => _run.RunId;

        /// <summary>The latest record, with live progress.</summary>
        public RunRecord Run => _run;

        internal void Update(RunRecord run) => _run = run;

        /// <summary>Completes with the run's outcome; never faults.</summary>
        public Task<RunOutcome> Completion { get; internal set; } = Task.FromResult(new RunOutcome(run, []));
    }

    long _committedRuns;

    /// <summary>How many runs this process has committed: a version number for what it may have cached.</summary>
    public long CommittedRuns => Interlocked.Read(ref _committedRuns);

    /// <summary>
    /// True while this process runs a run that has not ended: a cheap early answer before accepting a large upload (a
    /// start while the run only cleans up waits for it instead).
    /// </summary>
    public bool IsBusy => _active is not null && !_cleaningUp;

    public Guid? ActiveRunId => _active?.RunId;

    /// <summary>The run this process is executing, if it is <paramref name="runId"/>.</summary>
    public ActiveRun? FindActive(Guid runId) => _active is { } active && active.RunId == runId ? active : null;

    /// <summary>This process's freshest record of a run: live progress, or an end not yet saved; null when it has none.</summary>
    public RunRecord? FindLocal(Guid runId) => FindActive(runId)?.Run ?? _unsaved.GetValueOrDefault(runId);

    /// <summary>
    /// Takes the database for a new run and starts it in the background. The source is owned by the run from here on.
    /// </summary>
    /// <exception cref="RunInProgressException">Another run holds the database; it names that run when it can.</exception>
    public async Task<ActiveRun> StartAsync(DataSetSource source, RunMode mode, CancellationToken cancellationToken)
    {
        var run = RunRecord.Queue(clock.GetUtcNow(), mode, source.Kind) with { InputBytes = source.InputBytes(), Provider = store.Provider };
        TaskCompletionSource<Guid?>? holder = null;
        Task<Guid?> rival;
        bool holderCleansUp;
        lock (_startLock)
        {
            // Under the lock: a racing start sees either the gate still free, or the holder of this start's attempt.
            if (_gate.Wait(0, CancellationToken.None))
            {
                holder = Hold(run);
            }
            rival = _holder;
            holderCleansUp = _cleaningUp;
        }
        try
        {
            // The run holding the gate has ended, and its end may already be read from the database (the history, another
            // replica): it only cleans up (SQLite's checkpoint). Wait for it rather than refuse a start that saw it end.
            if (holder is null && holderCleansUp && await _gate.WaitAsync(CleanupPatience, cancellationToken))
            {
                lock (_startLock)
                {
                    holder = Hold(run);
                }
            }
        }
        catch
        {
            source.Dispose();
            throw;
        }
        if (holder is null)
        {
            source.Dispose();
            throw new RunInProgressException(await rival.WaitAsync(cancellationToken));
        }
        IDataSetLoad? load = null;
        try
        {
            await SaveUnsavedAsync();
            try
            {
                load = await Task.Run(() => _loads.Begin(() => source.CanReadAgain), cancellationToken);
            }
            catch (RunInProgressException)
            {
                var other = await FindRivalRunAsync(cancellationToken);
                holder.SetResult(other);
                throw new RunInProgressException(other);
            }
            await store.SaveRunAsync(run, cancellationToken);
            holder.SetResult(run.RunId);
            var active = new ActiveRun(run, _stopping.Token);
            _active = active;
            var ownedLoad = load;
            active.Completion = Task.Run(() => ExecuteAsync(active, ownedLoad, source), CancellationToken.None);
            return active;
        }
        catch
        {
            // No run of this process holds the database, and which one does is not known: racing starts name none.
            holder.TrySetResult(null);
            load?.Dispose();
            source.Dispose();
            _gate.Release();
            throw;
        }
        finally
        {
            _starting = null;
        }
    }

    /// <summary>A load that says when it has committed.</summary>
    sealed class CommitSignalingLoad(IDataSetLoad inner, Action committed) : IDataSetLoad
    {
        public bool DerivesFeatures => inner.DerivesFeatures;

        public IRowWriter<UserRow> OpenUsers() => inner.OpenUsers();

        public IRowWriter<CompoundRow> OpenCompounds() => inner.OpenCompounds();

        public IRowWriter<ExperimentRow> OpenExperiments() => inner.OpenExperiments();

        public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
        {
            var stored = inner.Commit(features, run, rejects, clock, cancellationToken);
            committed();
            return stored;
        }

        public void Dispose() => inner.Dispose();
    }

    /// <summary>Makes this start the gate's holder; under the start lock, with the gate taken.</summary>
    TaskCompletionSource<Guid?> Hold(RunRecord run)
    {
        var holder = new TaskCompletionSource<Guid?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _holder = holder.Task;
        _starting = run;
        return holder;
    }

    /// <summary>
    /// The run of the process that holds the database. It takes the load lock a moment before it records its run, so a
    /// start that loses the race waits that moment rather than answer a conflict that names no run.
    /// </summary>
    async Task<Guid?> FindRivalRunAsync(CancellationToken cancellationToken)
    {
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            var runId = await store.FindActiveRunAsync(cancellationToken);
            if (runId is not null || waited.Elapsed > RivalRecordPatience)
            {
                return runId;
            }
            await Task.Delay(TimeSpan.FromMilliseconds(50), clock, cancellationToken);
        }
    }

    async Task<RunOutcome> ExecuteAsync(ActiveRun active, IDataSetLoad load, DataSetSource source)
    {
        var token = active.Cancellation.Token;
        using var telemetry = Telemetry.EtlTelemetry.StartRun(logger, active.Run);
        using var progressLoop = new CancellationTokenSource();
        Task? progressTask = null;
        RunOutcome outcome;
        try
        {
            active.Update(active.Run with { Status = RunStatus.Running });
            LogRunStarted(active.RunId, store.Provider, active.Run.Mode, active.Run.Source);
            if (store.SharedByProcesses)
            {
                progressTask = SaveProgressAsync(active, progressLoop.Token);
            }
            // Once committed, the data set and the run's end are visible to readers: from then on a start waits for this
            // run's cleanup rather than refuse.
            try
            {
                outcome = Execute(active, load, source);
            }
            catch (FullLoadNeededException e)
            {
                // Nothing of the change-only attempt was committed: read the files again into a full load.
                load.Dispose();
                load = _loads.BeginFull(e.Message);
                outcome = Execute(active, load, source);
            }
            if (outcome.Succeeded)
            {
                Interlocked.Increment(ref _committedRuns);
            }
            else
            {
                load.Dispose(); // Roll back before the record says so.
            }
            outcome = await FinishAsync(outcome, progressLoop, progressTask);
        }
        catch (Exception e)
        {
            load.Dispose();
            var cancelled = e is OperationCanceledException && token.IsCancellationRequested;
            var ended = active.Run with
            {
                Status = cancelled ? RunStatus.Cancelled : RunStatus.Failed,
                FinishedAt = clock.GetUtcNow(),
                Message = cancelled
                    ? "The run was cancelled; nothing of it was loaded and the previous data is unchanged."
                    : $"The run failed; nothing of it was loaded and the previous data is unchanged. {Describe(e)}",
            };
            if (!cancelled)
            {
                LogRunFailed(e, active.RunId);
            }
            outcome = await FinishAsync(new RunOutcome(ended, [], cancelled ? null : e), progressLoop, progressTask);
        }
        finally
        {
            // Whatever the cleanup meets, the next run must be able to start.
            _cleaningUp = true;
            try
            {
                load.Dispose();
                source.Dispose();
            }
            finally
            {
                _active = null;
                _cleaningUp = false;
                _gate.Release();
            }
        }
        // The run reads as ended only now, with the gate free: a client that saw it end and at once started the next run
        // was answered 409 while the load's cleanup (SQLite's checkpoint) still held the gate. Until here this process's
        // readers (FindLocal) see it running, though its end may already be in the database.
        active.Update(outcome.Run);
        LogRunEnded(outcome.Run.RunId, outcome.Run.Status, outcome.Run.DurationSeconds, outcome.Run.ErrorCount, outcome.Run.RejectedCount);
        Telemetry.EtlTelemetry.RunEnded(outcome.Run);
        return outcome;
    }

    RunOutcome Execute(ActiveRun active, IDataSetLoad load, DataSetSource source) =>
        EtlPipeline.Execute(source, new CommitSignalingLoad(load, () => _cleaningUp = true), active.Run,
            files => active.Update(active.Run with { Files = files }), options.MemoryBudget, clock, active.Cancellation.Token);

    /// <summary>Stops the progress publisher and stores an end other than success, while the run still holds the gate.</summary>
    async Task<RunOutcome> FinishAsync(RunOutcome outcome, CancellationTokenSource progressLoop, Task? progressTask)
    {
        await progressLoop.CancelAsync();
        if (progressTask is not null)
        {
            await progressTask;
        }
        if (!outcome.Succeeded)
        {
            // A successful run's record was committed with its data; any other end is recorded here, before it is
            // reported, and before the gate opens to the sweeper (which would take it for a dead process's run).
            await TrySaveAsync(outcome.Run);
        }
        return outcome;
    }

    const int AbandonedRunLooks = 5;
    static readonly TimeSpan AbandonedRunLookPause = TimeSpan.FromMilliseconds(100);

    /// <summary>Asks for a run to be cancelled: at once when this process runs it, through the database otherwise.</summary>
    /// <returns>The run's record after the request, or null when the run is unknown.</returns>
    public async Task<RunRecord?> CancelAsync(Guid runId, CancellationToken cancellationToken)
    {
        if (FindActive(runId) is { } active)
        {
            await active.Cancellation.CancelAsync();
            try
            {
                return (await active.Completion.WaitAsync(ShutdownPatience, cancellationToken)).Run;
            }
            catch (TimeoutException)
            {
                return active.Run; // Still committing or rolling back; the caller follows the run.
            }
        }
        var requested = await store.RequestCancelAsync(runId, cancellationToken);
        if (requested is { Status: RunStatus.Queued or RunStatus.Running } && store.SharedByProcesses)
        {
            // Nobody may be running it any more: its process died. Then it ends now, not at the next sweep. A replica's
            // sweep holds the load lock for a few milliseconds at times, which looks like a live run: so look a few
            // times before concluding that another server runs it (a DELETE answered 202 for a dead run before).
            for (var attempt = 0; attempt < AbandonedRunLooks; attempt++)
            {
                if (await store.FailAbandonedRunsAsync(AbandonedRunMessage, clock.GetUtcNow(), TimeSpan.Zero, cancellationToken) > 0)
                {
                    LogAbandoned(1);
                    break;
                }
                await Task.Delay(AbandonedRunLookPause, cancellationToken);
            }
            // Ended by this request or meanwhile by a sweep, or still running on another server.
            return await store.GetRunAsync(runId, cancellationToken);
        }
        return requested;
    }

    static string Describe(Exception e) => StoreFailures.Classify(e) is not null
        ? $"The database failed: {e.Message}"
        : "An unexpected error occurred; the server log has the details.";

    /// <summary>At shutdown (SIGTERM): cancel the active run, which rolls back, and wait for its record.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_disposed)
        {
            return; // The test host may dispose services before it stops them.
        }
        await _stopping.CancelAsync();
        if (_sweeping is { } sweeping)
        {
            await sweeping.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        }
        if (_active is { } active)
        {
            try
            {
                await active.Completion.WaitAsync(ShutdownPatience, cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException)
            {
                LogShutdownTimeout(active.RunId);
            }
        }
    }

    bool _disposed;

    public void Dispose()
    {
        _disposed = true;
        _gate.Dispose();
        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} started on {Provider} ({Mode}, {Source})")]
    partial void LogRunStarted(Guid runId, string provider, RunMode mode, string source);

    [LoggerMessage(Level = LogLevel.Information, Message = "Run {RunId} {Status} in {Seconds} s: {ErrorCount} error(s), {RejectedCount} rejected row(s)")]
    partial void LogRunEnded(Guid runId, string status, double? seconds, long errorCount, long rejectedCount);

    [LoggerMessage(Level = LogLevel.Error, Message = "Run {RunId} failed")]
    partial void LogRunFailed(Exception exception, Guid runId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Run {RunId} did not stop in time at shutdown; its transaction is rolled back when the process exits")]
    partial void LogShutdownTimeout(Guid runId);
}
