using System.CommandLine;
using System.CommandLine.Invocation;
using ExperimentEtl.Configuration;

namespace ExperimentEtl.Cli;

/// <summary>
/// The command-line face of the service's executable: <c>etl</c> runs one run and prints the report, <c>report</c> prints
/// the current report, and <c>serve</c> (also the default) is the web service, started by Program.cs as before.
/// </summary>
public static class CliApp
{
    public const string ServeCommandName = "serve";

    static readonly string[] HelpTokens = ["-h", "--help", "-?", "/?", "/h"];

    /// <summary>
    /// True when the arguments are for the command-line tool: a verb, a help or version request, or a bare word that
    /// the web host would ignore anyway (a mistyped verb, reported here instead of silently starting the service).
    /// Everything else (no arguments, <c>--urls ...</c>, <c>key=value</c>, <c>serve ...</c>) is the web service's.
    /// </summary>
    public static bool Handles(string[] args)
    {
        if (args.Length == 0)
        {
            return false;
        }
        var first = args[0];
        if (first == ServeCommandName)
        {
            return args.Skip(1).Any(HelpTokens.Contains);
        }
        return HelpTokens.Contains(first) || first == "--version" ||
               (first.Length > 0 && first[0] is not ('-' or '/') && !first.Contains('=', StringComparison.Ordinal));
    }

    /// <summary>The web host's arguments: unchanged, less a leading <c>serve</c>.</summary>
    public static string[] ServeArguments(string[] args) => args is [ServeCommandName, .. var rest] ? rest : args;

    public static async Task<int> RunAsync(string[] args)
    {
        var root = new RootCommand("ExperimentEtl: checks and loads users.csv, compounds.csv and user_experiments.csv into a database " +
                                   "and reports per-user features. Without a command it runs the web service.")
        {
            EtlCommand.Create(),
            ReportCommand.Create(),
            new Command(ServeCommandName, "Runs the web service (the default when no command is given); ASP.NET Core options such as " +
                                          "--urls http://127.0.0.1:5000 apply. Settings come from the environment (DATABASE_URL, ETL_DATA_DIR, ...)."),
        };
        // Reached only through Handles, which leaves the bare invocation to the web service; here for the parser's sake.
        root.SetAction(_ => FailAsync("no command given; run with --help for the commands."));
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0 && parse.Action is ParseErrorAction)
        {
            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync($"error: {error.Message}");
            }
            var command = parse.CommandResult.Command == root ? "" : $" {parse.CommandResult.Command.Name}";
            await Console.Error.WriteLineAsync($"Run '{root.Name}{command} --help' for usage.");
            return ExitCodes.Failure;
        }
        // Ctrl+C cancels the token; an etl run then rolls back, which takes at most a few seconds.
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(15) });
    }

    /// <summary>Option shared by the commands: the database, as DATABASE_URL takes it.</summary>
    internal static Option<string> DatabaseOption() => new("--db")
    {
        Description = "The database: postgres://user:password@host:port/db, an Npgsql connection string, or a SQLite file path. " +
                      "Default: DATABASE_URL or API_DB_PATH from the environment.",
        HelpName = "URL",
    };

    /// <summary>
    /// Runs a command's body and turns every failure into one line on stderr and exit code 1: the operator sees what went wrong,
    /// never a stack trace.
    /// </summary>
    internal static async Task<int> GuardAsync(Func<Task<int>> body, CancellationToken cancellationToken)
    {
        try
        {
            return await body();
        }
        catch (CliException e)
        {
            return await FailAsync(e.Message);
        }
        catch (ConfigurationException e)
        {
            return await FailAsync(e.Message);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return await FailAsync("cancelled.");
        }
        catch (Exception e)
        {
            return await FailAsync(CliErrors.Describe(e));
        }
    }

    internal static async Task<int> FailAsync(string message)
    {
        await Console.Error.WriteLineAsync($"error: {message}");
        return ExitCodes.Failure;
    }
}

/// <summary>The tool's exit codes.</summary>
public static class ExitCodes
{
    public const int Success = 0;

    /// <summary>Anything other than invalid input: a missing folder, an unreachable database, a bad option, a cancelled run.</summary>
    public const int Failure = 1;

    /// <summary>The input files are not valid; each error is printed as <c>file:line: column: message</c>.</summary>
    public const int InvalidInput = 2;
}

/// <summary>A failure already worded for the operator; printed as it is.</summary>
sealed class CliException(string message) : Exception(message);
