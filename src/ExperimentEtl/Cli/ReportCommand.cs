using System.CommandLine;
using ExperimentEtl.Configuration;

namespace ExperimentEtl.Cli;

/// <summary><c>report [--db URL] [--format table|json|csv|parquet | --json | --csv]</c>: prints the current report of a database.</summary>
static class ReportCommand
{
    public const string Name = "report";

    public static Command Create()
    {
        var database = CliApp.DatabaseOption();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON, exactly as GET /report answers it." };
        var csv = new Option<bool>("--csv") { Description = "Print one CSV line per user (user_id,name,email,count,fav_compound,fav_compound_id)." };
        var format = new Option<ReportFormat?>("--format")
        {
            Description = "table (the default), json (--json), csv (--csv), or parquet: the CSV's columns as a Parquet file, " +
                          "for notebooks; redirect it to a file (report --format parquet > report.parquet).",
        };
        var command = new Command(Name, "Prints the current report: per user the experiments and favourite compound, and the averages. " +
                                        "A table by default.")
        {
            database,
            json,
            csv,
            format,
        };
        command.Validators.Add(result =>
        {
            if (result.GetValue(json) && result.GetValue(csv))
            {
                result.AddError("--json and --csv cannot be used together.");
            }
            else if (result.GetResult(format) is { Implicit: false } && (result.GetValue(json) || result.GetValue(csv)))
            {
                result.AddError("--format cannot be used with --json or --csv.");
            }
        });
        command.SetAction((parse, cancellationToken) =>
        {
            var chosen = parse.GetValue(format) ?? (parse.GetValue(json) ? ReportFormat.Json : parse.GetValue(csv) ? ReportFormat.Csv : ReportFormat.Table);
            return CliApp.GuardAsync(() => RunAsync(parse.GetValue(database), chosen, cancellationToken), cancellationToken);
        });
        return command;
    }

    static async Task<int> RunAsync(string? databaseUrl, ReportFormat format, CancellationToken cancellationToken)
    {
        if (format == ReportFormat.Parquet && !Console.IsOutputRedirected)
        {
            throw new CliException("Parquet is binary and would garble the terminal: redirect it to a file (report --format parquet > report.parquet).");
        }
        await using var services = CliServices.Create(databaseUrl);
        switch (services.Database.Kind)
        {
            case DatabaseKind.SqliteEphemeral:
                throw new CliException("no database to report from: pass --db URL or set DATABASE_URL " +
                                       "(without one the database is ephemeral, and empty in a new process).");
            case DatabaseKind.SqliteFile when !File.Exists(services.Database.ConnectionString):
                throw new CliException($"the SQLite file {Path.GetFullPath(services.Database.ConnectionString!)} does not exist; " +
                                       "load data into it first with 'etl --data DIR --db FILE'.");
        }
        await services.EnsureSchemaAsync(cancellationToken);
        await ReportOutput.WriteAsync(services.Store, services.Json, format, cancellationToken);
        return ExitCodes.Success;
    }
}
