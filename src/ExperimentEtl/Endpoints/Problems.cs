using ExperimentEtl.Pipeline;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>The RFC 9457 problem answers the API gives, in one place so that every endpoint words them alike.</summary>
public static class Problems
{
    public static ProblemHttpResult InvalidInput(RunOutcome outcome) => TypedResults.Problem(
        statusCode: StatusCodes.Status422UnprocessableEntity,
        title: "The input files are not valid",
        detail: $"{outcome.Run.ErrorCount} error(s) found; nothing was loaded and the previous data is unchanged. " +
                $"The first {outcome.Errors.Count} are listed under 'errors'.",
        type: "https://experiment-etl.dev/problems/invalid-input",
        extensions: new Dictionary<string, object?>
        {
            ["run_id"] = outcome.Run.RunId,
            ["error_count"] = outcome.Run.ErrorCount,
            ["errors"] = outcome.Errors,
        });

    public static ProblemHttpResult RunInProgress() => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "A run is already in progress",
        detail: "Only one ETL run at a time may write to the database. Try again when it has finished.",
        type: "https://experiment-etl.dev/problems/run-in-progress");

    public static ProblemHttpResult DatabaseUnavailable(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "The database is unavailable",
        detail: detail,
        type: "https://experiment-etl.dev/problems/database-unavailable");
}
