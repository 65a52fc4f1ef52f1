using System.Diagnostics;
using System.Diagnostics.Metrics;
using ExperimentEtl.Model;

namespace ExperimentEtl.Telemetry;

/// <summary>
/// The service's own traces and metrics: one <see cref="ActivitySource"/> and one <see cref="Meter"/>, both named
/// <see cref="Name"/>. Without a listener (no exporter configured) starting a span costs a null check.
/// </summary>
public static class EtlTelemetry
{
    public const string Name = "ExperimentEtl";

    /// <summary>The operation name of a run's root span; the spans of its stages are its descendants.</summary>
    public const string RunSpan = "etl.run";

    public static readonly ActivitySource Source = new(Name);

    static readonly Meter Meter = new(Name);

    static readonly Counter<long> RunsStarted = Meter.CreateCounter<long>(
        "etl.runs.started", "{run}", "Runs started, by mode and source.");

    static readonly Counter<long> RunsFinished = Meter.CreateCounter<long>(
        "etl.runs.finished", "{run}", "Runs ended, by status (succeeded, failed, cancelled) and mode.");

    static readonly Histogram<double> RunDuration = Meter.CreateHistogram(
        "etl.run.duration", "s", "Duration of a run from its start to its end, by status and mode.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800] });

    static readonly UpDownCounter<long> RunsActive = Meter.CreateUpDownCounter<long>(
        "etl.runs.active", "{run}", "Runs this process is executing now (0 or 1).");

    static readonly Counter<long> RowsRead = Meter.CreateCounter<long>(
        "etl.rows.read", "{row}", "Data rows read, by file, counted when a run ends.");

    static readonly Counter<long> RowsLoaded = Meter.CreateCounter<long>(
        "etl.rows.loaded", "{row}", "Rows loaded into the database by runs that succeeded, by file.");

    static readonly Counter<long> RowsRejected = Meter.CreateCounter<long>(
        "etl.rows.rejected", "{row}", "Invalid rows a lenient run skipped, by file.");

    static readonly Counter<long> BytesRead = Meter.CreateCounter<long>(
        "etl.read", "By", "Input bytes read, by file, counted when a run ends.");

    static readonly Counter<long> RowsWritten = Meter.CreateCounter<long>(
        "etl.rows.written", "{row}", "Rows successful loads wrote, by table and apply (changes: only what changed; full: the whole data set).");

    static readonly Counter<long> ReportCacheLookups = Meter.CreateCounter<long>(
        "etl.report_cache.lookups", "{request}", "GET /report answers, by result: hit (from memory) or miss (from the database).");

    /// <summary>
    /// Starts a run's root span and log scope. The run goes on after the request that started it has been answered,
    /// so its trace is its own, linked to that request's span rather than a child of it.
    /// </summary>
    public static RunScope StartRun(ILogger logger, RunRecord run)
    {
        var trigger = Activity.Current;
        Activity.Current = null; // A root span, in this run's own async flow only.
        ActivityLink[]? links = trigger is null ? null : [new ActivityLink(trigger.Context)];
        // Without a listener there is no span, but a run's log lines still get a trace id to find them by.
        var activity = Source.StartActivity(RunSpan, ActivityKind.Internal, parentContext: default, links: links)
                       ?? new Activity(RunSpan).Start();
        activity.SetTag("etl.run_id", run.RunId.ToString());
        activity.SetTag("etl.run.mode", ModeTag(run.Mode));
        activity.SetTag("etl.run.source", run.Source);
        var scope = logger.BeginScope("Run {RunId}", run.RunId);
        RunsStarted.Add(1, new("mode", ModeTag(run.Mode)), new("source", run.Source));
        RunsActive.Add(1);
        return new RunScope(activity, scope);
    }

    /// <summary>Records a run's end in the metrics and on its span.</summary>
    public static void RunEnded(RunRecord run)
    {
        var status = new KeyValuePair<string, object?>("status", run.Status);
        var mode = new KeyValuePair<string, object?>("mode", ModeTag(run.Mode));
        RunsFinished.Add(1, status, mode, new("apply", run.Apply ?? "none"));
        if (run.DurationSeconds is { } seconds)
        {
            RunDuration.Record(seconds, status, mode);
        }
        foreach (var file in run.Files)
        {
            var tag = new KeyValuePair<string, object?>("file", file.File);
            RowsRead.Add(file.RowsRead, tag);
            RowsLoaded.Add(file.RowsLoaded, tag);
            RowsRejected.Add(file.RowsRejected, tag);
            BytesRead.Add(file.BytesRead, tag);
        }
        if (run.RowsWritten is { } written)
        {
            var apply = new KeyValuePair<string, object?>("apply", run.Apply);
            foreach (var (table, rows) in new[]
            {
                ("users", written.Users), ("compounds", written.Compounds), ("experiments", written.Experiments),
                ("user_features", written.UserFeatures), ("user_favorites", written.UserFavorites), ("compound_features", written.CompoundFeatures),
            })
            {
                if (rows is { } counted)
                {
                    RowsWritten.Add(counted, new("table", table), apply);
                }
            }
        }
        if (FindRunSpan() is { } span)
        {
            span.SetTag("etl.run.status", run.Status);
            span.SetTag("etl.run.apply", run.Apply);
            span.SetTag("etl.rows.loaded", run.Files.Sum(f => f.RowsLoaded));
            span.SetTag("etl.errors", run.ErrorCount);
            if (run.Status == RunStatus.Failed)
            {
                span.SetStatus(ActivityStatusCode.Error, run.Message);
            }
        }
    }

    public static void ReportCacheLookup(bool hit) => ReportCacheLookups.Add(1, new KeyValuePair<string, object?>("result", hit ? "hit" : "miss"));

    /// <summary>
    /// Starts a span for work that outlives the stage that starts it (PostgreSQL builds the keys while the pipeline
    /// goes on): a child of the run's root span, which leaves <see cref="Activity.Current"/> as it was.
    /// </summary>
    public static Activity? StartBackgroundSpan(string name)
    {
        var current = Activity.Current;
        if (FindRunSpan() is not { } run || !Source.HasListeners())
        {
            return null;
        }
        var activity = Source.StartActivity(name, ActivityKind.Internal, run.Context);
        Activity.Current = current;
        return activity;
    }

    /// <summary>Ends a span of <see cref="StartBackgroundSpan"/>; stopping a span makes the one before it current again, which is not wanted here.</summary>
    public static void EndBackgroundSpan(Activity? span)
    {
        if (span is null)
        {
            return;
        }
        var current = Activity.Current;
        span.Dispose();
        Activity.Current = current;
    }

    static Activity? FindRunSpan()
    {
        for (var activity = Activity.Current; activity is not null; activity = activity.Parent)
        {
            if (activity.OperationName == RunSpan)
            {
                return activity;
            }
        }
        return null;
    }

    static string ModeTag(RunMode mode) => mode == RunMode.Lenient ? "lenient" : "strict";

    /// <summary>A run's root span and log scope; disposing ends both.</summary>
    public sealed class RunScope(Activity activity, IDisposable? logScope) : IDisposable
    {
        public void Dispose()
        {
            RunsActive.Add(-1);
            logScope?.Dispose();
            activity.Dispose();
        }
    }
}
