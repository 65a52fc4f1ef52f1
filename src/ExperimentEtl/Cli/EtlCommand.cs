using System.CommandLine;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Cli;

/// <summary>
/// <c>etl --data DIR [--db URL] [--lenient] [--json]</c>: one run over a folder, through the service's <see cref="RunManager"/>
/// (so validation, loading and the run record are the service's), with progress and what the load changed on stderr and
/// the report on stdout.
/// </summary>
static class EtlCommand
{
    public const string Name = "etl";

    /// <summary>Errors printed for an invalid input; the run keeps at most as many (<see cref="ErrorCollector.MaxKept"/>).</summary>
    const int MaxPrinted = 100;

    public static Command Create()
    {
        var data = new Option<string>("--data")
        {
            Description = "The folder holding users.csv, compounds.csv and user_experiments.csv.",
            HelpName = "DIR",
            Required = true,
        };
        var database = CliApp.DatabaseOption();
        database.Description += " Without either, an ephemeral database deleted at exit: the report shows what this run loaded.";
        var lenient = new Option<bool>("--lenient") { Description = "Skip invalid rows (listed on stderr) and load the rest; a problem with a whole file still fails the run." };
        var json = new Option<bool>("--json") { Description = "Print the report as JSON (as GET /report answers it, with what the load changed under \"changes\") instead of a table." };
        var command = new Command(Name, "Checks and loads the three files into the database in one transaction, then prints the report. " +
                                        "Progress goes to stderr (a live bar on a terminal, plain lines otherwise), then what the load changed.")
        {
            data,
            database,
            lenient,
            json,
        };
        command.SetAction((parse, cancellationToken) => CliApp.GuardAsync(() => RunAsync(
            parse.GetValue(data)!,
            parse.GetValue(database),
            parse.GetValue(lenient) ? RunMode.Lenient : RunMode.Strict,
            parse.GetValue(json) ? ReportFormat.Json : ReportFormat.Table,
            cancellationToken), cancellationToken));
        return command;
    }

    static async Task<int> RunAsync(string dataDirectory, string? databaseUrl, RunMode mode, ReportFormat format, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(dataDirectory);
        if (!Directory.Exists(directory))
        {
            throw new CliException(File.Exists(directory)
                ? $"--data takes a folder, and {directory} is a file."
                : $"the data folder {directory} does not exist.");
        }
        await using var services = CliServices.Create(databaseUrl);
        await services.EnsureSchemaAsync(cancellationToken);
        await services.CleanUpAsync(cancellationToken);

        RunManager.ActiveRun run;
        try
        {
            run = await services.Runs.StartAsync(DataSetSource.FromDirectory(directory), mode, cancellationToken);
        }
        catch (RunInProgressException e)
        {
            throw new CliException("another run is in progress on this database" +
                                   (e.RunningRunId is { } id ? $" (run {id})" : "") + "; try again when it has finished.");
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new CliException($"cannot start a run on {services.Database.Describe()}: {CliErrors.Describe(e)}");
        }

        var progress = RunProgress.Create(directory, services.Database.Describe());
        var outcome = await progress.FollowAsync(run, () => services.Runs.CancelAsync(run.RunId, CancellationToken.None), cancellationToken);

        if (outcome.InvalidInput)
        {
            await PrintErrorsAsync(outcome);
            return ExitCodes.InvalidInput;
        }
        if (!outcome.Succeeded)
        {
            var why = outcome.Run.Status == RunStatus.Cancelled ? "the run was cancelled"
                : outcome.Failure is { } failure ? $"the run failed: {CliErrors.Describe(failure)}"
                : $"the run failed: {outcome.Run.Message}";
            throw new CliException($"{why.TrimEnd('.')}; nothing was loaded and the previous data is unchanged.");
        }
        if (outcome.Run.RejectedCount > 0)
        {
            await PrintRejectsAsync(services, outcome.Run, cancellationToken);
        }
        var change = outcome.Run.Changes;
        if (change is not null)
        {
            foreach (var line in ChangeOutput.Describe(change))
            {
                await Console.Error.WriteLineAsync(line);
            }
        }
        await ReportOutput.WriteAsync(services.Store, ChangeOutput.WithChanges(services.Json, change), format, cancellationToken);
        return ExitCodes.Success;
    }

    /// <summary>Each error as <c>file:line: column: message</c>, the first 100, then the total.</summary>
    static async Task PrintErrorsAsync(RunOutcome outcome)
    {
        var errors = Console.Error;
        foreach (var error in outcome.Errors.Take(MaxPrinted))
        {
            await errors.WriteLineAsync(Format(error));
        }
        var total = outcome.Run.ErrorCount;
        var listed = Math.Min(outcome.Errors.Count, MaxPrinted);
        await errors.WriteLineAsync(total > listed
            ? $"error: {total} errors in the input (the first {listed} are listed); nothing was loaded and the previous data is unchanged."
            : $"error: {total} error{(total == 1 ? "" : "s")} in the input; nothing was loaded and the previous data is unchanged.");
    }

    internal static string Format(RowError error)
    {
        var place = error.Line > 0 ? $"{error.File}:{error.Line}" : error.File;
        var column = error.Column is null ? "" : $"{error.Column}: ";
        var value = string.IsNullOrEmpty(error.Value) || error.Message.Contains(error.Value, StringComparison.Ordinal)
            ? ""
            : $" (value \"{CliErrors.Escape(error.Value)}\")";
        return $"{place}: {column}{error.Message}{value}";
    }

    /// <summary>A lenient run's skipped rows, as the errors would have been printed, then their number.</summary>
    static async Task PrintRejectsAsync(CliServices services, RunRecord run, CancellationToken cancellationToken)
    {
        var rejects = await services.Store.ListRejectsAsync(run.RunId, MaxPrinted, 0, cancellationToken);
        foreach (var reject in rejects)
        {
            await Console.Error.WriteLineAsync($"{reject.File}:{reject.Line}: {CliErrors.OneLine(reject.Reason)} (row skipped)");
        }
        await Console.Error.WriteLineAsync(
            $"warning: {run.RejectedCount} invalid row{(run.RejectedCount == 1 ? " was" : "s were")} skipped" +
            (run.RejectedCount > rejects.Count ? $" (the first {rejects.Count} are listed)" : "") + "; the other rows were loaded.");
    }
}
