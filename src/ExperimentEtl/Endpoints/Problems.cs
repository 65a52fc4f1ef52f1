using System.Buffers;
using System.Text;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;
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

    public static ProblemHttpResult RunInProgress(Guid? runningRunId) => TypedResults.Problem(
        statusCode: StatusCodes.Status409Conflict,
        title: "A run is already in progress",
        detail: "Only one ETL run at a time may write to the database. Try again when it has finished" +
                (runningRunId is { } id ? $", or follow it at /api/etl/runs/{id}." : "."),
        type: "https://experiment-etl.dev/problems/run-in-progress",
        extensions: new Dictionary<string, object?> { ["running_run_id"] = runningRunId });

    public static ProblemHttpResult NotFound(string what, object id) => TypedResults.Problem(
        statusCode: StatusCodes.Status404NotFound,
        title: $"No such {what}",
        detail: $"There is no {what} {id}.",
        type: "https://experiment-etl.dev/problems/not-found");

    /// <summary>
    /// Gives the problems the framework makes itself (no endpoint for the path, a method the path does not take) a
    /// detail, as every problem of the service has.
    /// </summary>
    public static void DescribeFrameworkProblem(ProblemDetailsContext context)
    {
        if (context.ProblemDetails.Detail is not null)
        {
            return;
        }
        var request = context.HttpContext.Request;
        context.ProblemDetails.Detail = context.ProblemDetails.Status switch
        {
            StatusCodes.Status404NotFound =>
                $"Nothing answers {request.Method} {request.Path}: check the path, and that an id has its form (a number for users, a UUID for runs). The API is described at /openapi/v1.json.",
            StatusCodes.Status405MethodNotAllowed => $"{request.Path} does not take {request.Method}. The API is described at /openapi/v1.json.",
            _ => context.ProblemDetails.Title,
        };
    }

    /// <summary>A page size out of range: 400 like any parameter the service cannot use, never a silent clamp.</summary>
    public static ProblemHttpResult? CheckLimit(int? limit, int max) =>
        limit is < 1 || limit > max ? InvalidParameter("limit", $"is 1 to {max}") : null;

    /// <summary>A query parameter the service cannot use; <c>errors</c> names it, as ASP.NET Core's validation problems do.</summary>
    public static ProblemHttpResult InvalidParameter(string name, string message) => TypedResults.Problem(
        statusCode: StatusCodes.Status400BadRequest,
        title: $"Invalid parameter {name}",
        detail: $"{name} {message}.",
        type: "https://experiment-etl.dev/problems/bad-request",
        extensions: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { [name] = [message] } });

    /// <summary>
    /// Text a database can store and compare: no NUL (PostgreSQL refuses it, SQLite cuts the text there) and no lone
    /// surrogate (not Unicode).
    /// </summary>
    public static bool IsUsableText(string text)
    {
        for (var rest = text.AsSpan(); !rest.IsEmpty;)
        {
            if (Rune.DecodeFromUtf16(rest, out var rune, out var used) != OperationStatus.Done || rune.Value == 0)
            {
                return false;
            }
            rest = rest[used..];
        }
        return true;
    }

    /// <summary>How a finished run is answered to a caller that waited for it.</summary>
    public static Results<Ok<RunRecord>, ProblemHttpResult> FromOutcome(RunOutcome outcome)
    {
        if (outcome.Succeeded)
        {
            return TypedResults.Ok(outcome.Run);
        }
        if (outcome.InvalidInput)
        {
            return InvalidInput(outcome);
        }
        var extensions = new Dictionary<string, object?> { ["run_id"] = outcome.Run.RunId };
        if (outcome.Run.Status == RunStatus.Cancelled)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "The run was cancelled",
                detail: outcome.Run.Message, type: "https://experiment-etl.dev/problems/run-cancelled", extensions: extensions);
        }
        return outcome.Failure is { } failure && StoreFailures.IsUnavailable(failure)
            ? TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "The database is unavailable",
                detail: outcome.Run.Message, type: "https://experiment-etl.dev/problems/database-unavailable", extensions: extensions)
            : TypedResults.Problem(statusCode: StatusCodes.Status500InternalServerError, title: "The run failed",
                detail: outcome.Run.Message, type: "https://experiment-etl.dev/problems/run-failed", extensions: extensions);
    }

    public static ProblemHttpResult DatabaseUnavailable(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "The database is unavailable",
        detail: detail,
        type: "https://experiment-etl.dev/problems/database-unavailable");

    public static ProblemHttpResult Overloaded(int waiting) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "Too many reads at once",
        detail: $"{waiting} reads were already waiting; nothing was read. Try again shortly.",
        type: "https://experiment-etl.dev/problems/overloaded");

    public static ProblemHttpResult NotReady(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status503ServiceUnavailable,
        title: "The service is not ready",
        detail: detail,
        type: "https://experiment-etl.dev/problems/not-ready");
}
