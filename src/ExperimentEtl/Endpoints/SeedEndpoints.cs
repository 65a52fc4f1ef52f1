using ExperimentEtl.Configuration;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>The seed's three endpoints, with the same paths and answer shapes.</summary>
public static class SeedEndpoints
{
    public static IEndpointRouteBuilder MapSeedEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Seed API");

        group.MapGet("/setup_test_db", SetupAsync)
            .WithName("SetupDatabase")
            .RequireApiKey()
            .ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(Problem))
            .WithSummary("Creates the tables if they are missing")
            .WithDescription("Idempotent: existing data is kept. The schema is also created at start-up.");

        group.MapGet("/csv", RunCsvAsync)
            .WithName("RunCsv")
            .RequireApiKey()
            .RequireSchema()
            .WithSummary("Runs the ETL over the three files of the data folder and answers when it is done")
            .WithDescription("Replaces the whole data set in one transaction. Invalid input fails the run with 422 and a list of errors; the previous data is kept.")
            .ProducesProblemOf(StatusCodes.Status409Conflict, typeof(RunConflictProblem))
            .ProducesProblemOf(StatusCodes.Status422UnprocessableEntity, typeof(InvalidInputProblem))
            .ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(RunFailedProblem));

        group.MapGet("/report", () => new ReportResult())
            .WithName("GetReport")
            .RequireSchema()
            .WithSummary("The per-user report of the current data set")
            .WithDescription("One entry per user ordered by user id; before any run, a null average and no users. " +
                             "CSV with Accept: text/csv.");

        group.MapGet("/report.csv", () => new ReportResult(csv: true))
            .WithName("GetReportCsv")
            .RequireSchema()
            .AddOpenApiOperationTransformer(ApiDocument.CsvOnlyAsync)
            .WithSummary("The report as CSV");

        group.MapGet("/report.parquet", () => new ReportParquetResult())
            .WithName("GetReportParquet")
            .RequireSchema()
            .WithSummary("The report as Parquet, for notebooks")
            .WithDescription("The columns of /report.csv, typed (fav_compound and fav_compound_id are null for a user without experiments); " +
                             "a file with no rows before any run.");

        return app;
    }

    public sealed record MessageResponse(string Message);

    static async Task<Ok<MessageResponse>> SetupAsync(IEtlStore store, StartupSchema schema, CancellationToken cancellationToken)
    {
        await schema.EnsureAsync(cancellationToken);
        return TypedResults.Ok(new MessageResponse($"The {store.Provider} database is set up: all tables exist."));
    }

    static async Task<Results<Ok<RunRecord>, ProblemHttpResult>> RunCsvAsync(RunManager runs, EtlOptions options)
    {
        RunManager.ActiveRun run;
        try
        {
            run = await runs.StartAsync(DataSetSource.FromDirectory(options.DataDirectory), RunMode.Strict, CancellationToken.None);
        }
        catch (RunInProgressException e)
        {
            return Problems.RunInProgress(e.RunningRunId);
        }
        // The run is bound to the service's life, not the request's: a client hanging up does not abort a load half-way,
        // while a shutdown still cancels (and rolls back) it.
        return Problems.FromOutcome(await run.Completion);
    }
}
