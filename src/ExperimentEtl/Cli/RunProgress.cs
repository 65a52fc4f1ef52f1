using System.Diagnostics;
using System.Globalization;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using Spectre.Console;

namespace ExperimentEtl.Cli;

/// <summary>
/// Follows a run until it ends, showing its progress on stderr (stdout carries only the report, so <c>--json</c> can be piped):
/// a live bar per file (bytes read of total) when stderr is a terminal, otherwise plain lines, one per file as it is done
/// and one every few seconds for a file still being read.
/// </summary>
sealed class RunProgress
{
    static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);
    static readonly TimeSpan PlainLineInterval = TimeSpan.FromSeconds(5);
    static readonly string[] FileNames = [.. CsvSchema.All.Select(schema => schema.FileName)];

    readonly IAnsiConsole? _live;
    readonly string _directory;
    readonly string _database;
    readonly HashSet<string> _finished = [];
    readonly Stopwatch _sinceLine = Stopwatch.StartNew();

    RunProgress(IAnsiConsole? live, string directory, string database)
    {
        _live = live;
        _directory = directory;
        _database = database;
    }

    public static RunProgress Create(string directory, string database)
    {
        // Spectre.Console judges a terminal by stdout; the bar goes to stderr, which may be a terminal while stdout is a file.
        var live = !Console.IsErrorRedirected && Environment.GetEnvironmentVariable("TERM") is not (null or "" or "dumb");
        var console = live
            ? AnsiConsole.Create(new AnsiConsoleSettings
            {
                Out = new AnsiConsoleOutput(Console.Error),
                Ansi = AnsiSupport.Yes,
                Interactive = InteractionSupport.Yes,
            })
            : null;
        return new RunProgress(console, directory, database);
    }

    /// <param name="cancel">Called once when <paramref name="cancellationToken"/> fires (Ctrl+C): cancels the run, which rolls back.</param>
    /// <returns>The run's outcome; never throws for the run's sake.</returns>
    public async Task<RunOutcome> FollowAsync(RunManager.ActiveRun run, Func<Task> cancel, CancellationToken cancellationToken)
    {
        await WriteLineAsync($"Run {run.RunId} ({run.Run.Mode.ToString().ToLowerInvariant()}): loading {_directory} into {_database}");
        RunOutcome outcome;
        if (_live is null)
        {
            outcome = await PollAsync(run, cancel, WritePlain, cancellationToken);
        }
        else
        {
            outcome = await _live.Progress()
                .AutoClear(false)
                .HideCompleted(false)
                .Columns(
                    new TaskDescriptionColumn { Alignment = Justify.Left },
                    new ProgressBarColumn(),
                    new PercentageColumn(),
                    new DownloadedColumn { Culture = CultureInfo.InvariantCulture },
                    new RemainingTimeColumn(),
                    new SpinnerColumn())
                .StartAsync(context =>
                {
                    var tasks = FileNames.ToDictionary(name => name, name => AddTask(context, name));
                    return PollAsync(run, cancel, (files, ended) => UpdateLive(context, tasks, files, ended), cancellationToken);
                });
        }
        var ended = outcome.Run;
        var seconds = ended.DurationSeconds?.ToString("0.###", CultureInfo.InvariantCulture) ?? "?";
        await WriteLineAsync(outcome.Succeeded
            ? string.Create(CultureInfo.InvariantCulture, $"Run {ended.RunId} succeeded in {seconds} s: {ended.Files.Sum(f => f.RowsLoaded):N0} rows loaded.")
            : $"Run {ended.RunId} {ended.Status} in {seconds} s.");
        if (outcome.Succeeded && Applied(ended) is { } applied)
        {
            await WriteLineAsync(applied);
        }
        return outcome;
    }

    /// <summary>How the load wrote its data set, and why, with the rows it wrote per table.</summary>
    static string? Applied(RunRecord run)
    {
        if (run.Apply is not { } apply)
        {
            return null;
        }
        var how = apply == ApplyKinds.Changes ? "Applied only what changed" : "Applied in full";
        var rows = run.RowsWritten is { } w
            ? string.Create(CultureInfo.InvariantCulture,
                $" Rows written: users {w.Users:N0}, compounds {w.Compounds:N0}, experiments {w.Experiments:N0}, user_features {w.UserFeatures:N0}, user_favorites {(w.UserFavorites is { } f ? f.ToString("N0", CultureInfo.InvariantCulture) : "(by the database)")}, compound_features {(w.CompoundFeatures is { } c ? c.ToString("N0", CultureInfo.InvariantCulture) : "(by the database)")}.")
            : "";
        return $"{how}: {run.ApplyReason}{rows}";
    }

    static async Task<RunOutcome> PollAsync(
        RunManager.ActiveRun run, Func<Task> cancel, Action<IReadOnlyList<FileStats>, bool> update, CancellationToken cancellationToken)
    {
        var cancelRequested = false;
        while (!run.Completion.IsCompleted)
        {
            update(run.Run.Files, false);
            await Task.WhenAny(run.Completion, Task.Delay(PollInterval, cancelRequested ? CancellationToken.None : cancellationToken));
            if (cancellationToken.IsCancellationRequested && !cancelRequested)
            {
                cancelRequested = true;
                try
                {
                    await cancel();
                }
                catch (Exception)
                {
                    // The run ends by itself in any case; its outcome says how.
                }
            }
        }
        var outcome = await run.Completion;
        update(outcome.Run.Files, true);
        return outcome;
    }

    ProgressTask AddTask(ProgressContext context, string name)
    {
        var path = Path.Combine(_directory, name);
        var exists = File.Exists(path);
        var task = context.AddTask(exists ? name : $"{name} (not found)", autoStart: false, maxValue: exists ? Math.Max(new FileInfo(path).Length, 1) : 1);
        return task;
    }

    static void UpdateLive(ProgressContext context, Dictionary<string, ProgressTask> tasks, IReadOnlyList<FileStats> files, bool ended)
    {
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            if (!tasks.TryGetValue(file.File, out var task))
            {
                tasks[file.File] = task = context.AddTask(file.File, autoStart: false);
            }
            if (!task.IsStarted)
            {
                task.StartTask();
            }
            if (file.BytesTotal > 0)
            {
                task.MaxValue = file.BytesTotal;
                task.Value = file.BytesRead;
            }
            // A file is done once the next one has started or the run has read it to the end; a run that stopped
            // half-way leaves its bar where it stopped.
            if (i < files.Count - 1 || (ended && file.BytesRead >= file.BytesTotal))
            {
                task.StopTask();
            }
        }
        context.Refresh();
    }

    /// <summary>A line per file once it is done; a line every few seconds for the file being read.</summary>
    void WritePlain(IReadOnlyList<FileStats> files, bool ended)
    {
        for (var i = 0; i < files.Count; i++)
        {
            var file = files[i];
            if ((ended || i < files.Count - 1) && _finished.Add(file.File))
            {
                var rejected = file.RowsRejected > 0 ? $", {file.RowsRejected:N0} skipped" : "";
                // A run that ended half-way through a file (cancelled, failed) says where it stopped.
                var read = file.BytesRead < file.BytesTotal ? $"{Bytes(file.BytesRead)} of {Bytes(file.BytesTotal)} read (stopped)" : $"{Bytes(file.BytesRead)} read";
                WriteLine($"{file.File}: {read}, {file.RowsRead:N0} rows{rejected}");
            }
        }
        if (!ended && files.Count > 0 && !_finished.Contains(files[^1].File) && _sinceLine.Elapsed >= PlainLineInterval)
        {
            var file = files[^1];
            var percent = file.BytesTotal > 0 ? file.BytesRead * 100 / file.BytesTotal : 0;
            WriteLine($"{file.File}: {Bytes(file.BytesRead)} of {Bytes(file.BytesTotal)} ({percent}%), {file.RowsRead:N0} rows so far");
        }
    }

    void WriteLine(FormattableString line)
    {
        Console.Error.WriteLine(line.ToString(CultureInfo.InvariantCulture));
        _sinceLine.Restart();
    }

    async Task WriteLineAsync(string line)
    {
        if (_live is null)
        {
            await Console.Error.WriteLineAsync(line);
        }
        else
        {
            _live.WriteLine(line);
        }
    }

    static string Bytes(long bytes) => bytes switch
    {
        < 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes} B"),
        < 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / 1024.0:0.0} KiB"),
        < 1024L * 1024 * 1024 => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024):0.0} MiB"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024 * 1024):0.00} GiB"),
    };
}
