using System.Globalization;
using System.Text;
using System.Text.Json;
using ExperimentEtl.Reporting;
using ExperimentEtl.Storage;
using Spectre.Console;

namespace ExperimentEtl.Cli;

public enum ReportFormat
{
    Table,
    Json,
    Csv,
    Parquet,
}

/// <summary>
/// Prints the current report to stdout, read from one snapshot of the store (<see cref="IReadStore.OpenReportAsync"/>) as
/// GET /report reads it. JSON, CSV and Parquet stream every user; the table shows the first <see cref="MaxTableRows"/>.
/// </summary>
static class ReportOutput
{
    /// <summary>A table longer than this helps nobody on a terminal; --csv and --json print every user.</summary>
    public const int MaxTableRows = 1000;

    public static async Task WriteAsync(IEtlStore store, JsonSerializerOptions json, ReportFormat format, CancellationToken cancellationToken)
    {
        await using var snapshot = await store.OpenReportAsync(cancellationToken);
        switch (format)
        {
            case ReportFormat.Json:
                await WriteJsonAsync(snapshot, json, cancellationToken);
                break;
            case ReportFormat.Csv:
                await WriteCsvAsync(snapshot, cancellationToken);
                break;
            case ReportFormat.Parquet:
                await WriteParquetAsync(snapshot, cancellationToken);
                break;
            default:
                await WriteTableAsync(snapshot, cancellationToken);
                break;
        }
    }

    /// <summary>The JSON of GET /report: the same record, serialized with the service's JSON settings.</summary>
    static async Task WriteJsonAsync(IReportSnapshot snapshot, JsonSerializerOptions json, CancellationToken cancellationToken)
    {
        var response = ReportResponse.From(snapshot, cancellationToken);
        await using var stdout = Console.OpenStandardOutput();
        await JsonSerializer.SerializeAsync(stdout, response, json, cancellationToken);
        await stdout.WriteAsync("\n"u8.ToArray(), cancellationToken);
    }

    /// <summary>The CSV of GET /report.csv (<see cref="ReportCsvWriter"/>): RFC 4180, UTF-8, one user a line.</summary>
    static async Task WriteCsvAsync(IReportSnapshot snapshot, CancellationToken cancellationToken)
    {
        await using var stdout = Console.OpenStandardOutput();
        await using var writer = new StreamWriter(stdout, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false), bufferSize: 1 << 16);
        await ReportCsvWriter.WriteAsync(writer, snapshot.ReadUsersAsync(cancellationToken), cancellationToken);
    }

    /// <summary>The Parquet of GET /report.parquet (<see cref="ReportParquetWriter"/>).</summary>
    static async Task WriteParquetAsync(IReportSnapshot snapshot, CancellationToken cancellationToken)
    {
        await using var stdout = Console.OpenStandardOutput();
        // The writer writes many small pieces (page headers, levels): one write call per 64 KB instead.
        await using var buffered = new BufferedStream(stdout, 1 << 16);
        await ReportParquetWriter.WriteAsync(buffered, snapshot.ReadUsersAsync(cancellationToken), cancellationToken);
    }

    static async Task WriteTableAsync(IReportSnapshot snapshot, CancellationToken cancellationToken)
    {
        var console = AnsiConsole.Console;
        if (snapshot.Summary is not { } summary)
        {
            await Console.Out.WriteLineAsync("No data loaded yet: run 'etl --data DIR' first.");
            return;
        }
        var table = new Table()
            .Border(TableBorder.Rounded)
            .AddColumn(new TableColumn("User id").RightAligned())
            .AddColumn(new TableColumn("Name"))
            .AddColumn(new TableColumn("Experiments").RightAligned())
            .AddColumn(new TableColumn("Favourite compound"));
        var shown = 0;
        await foreach (var user in snapshot.ReadUsersAsync(cancellationToken))
        {
            if (shown == MaxTableRows)
            {
                break;
            }
            table.AddRow(
                new Text(user.UserId.ToString(CultureInfo.InvariantCulture)),
                new Text(user.Name),
                new Text(user.Count.ToString(CultureInfo.InvariantCulture)),
                new Text(user.FavCompound ?? "-"));
            shown++;
        }
        console.Write(table);
        // Plain lines, not wrapped at the console's width.
        var stdout = Console.Out;
        if (summary.Users > shown)
        {
            await stdout.WriteLineAsync(Invariant($"... and {summary.Users - shown:N0} more users; --csv or --json prints all of them."));
        }
        await stdout.WriteLineAsync(Invariant(
            $"Average experiments per user: {Format(Averages.PerUser(summary.Experiments, summary.Users))} ({Count(summary.Experiments, "experiment")} / {Count(summary.Users, "user")})"));
        await stdout.WriteLineAsync(Invariant(
            $"Average per active user:      {Format(Averages.PerUser(summary.Experiments, summary.ActiveUsers))} ({Count(summary.ActiveUsers, "user")} with at least one experiment)"));
        await stdout.WriteLineAsync(Invariant(
            $"Compounds: {summary.Compounds:N0}. Loaded {summary.LoadedAt.ToUniversalTime():yyyy-MM-dd HH:mm:ss} UTC{(summary.RunId is { } run ? $" by run {run}" : "")}."));
    }

    static string Count(long count, string noun) => Invariant($"{count:N0} {noun}{(count == 1 ? "" : "s")}");

    static string Format(double value) => value.ToString("0.###", CultureInfo.InvariantCulture);

    static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
