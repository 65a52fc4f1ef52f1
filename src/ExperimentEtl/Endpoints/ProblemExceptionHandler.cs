using System.Net.Sockets;
using ExperimentEtl.Pipeline;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace ExperimentEtl.Endpoints;

/// <summary>Turns exceptions into problem details a person can act on; the stack trace stays in the log.</summary>
public sealed class ProblemExceptionHandler(IProblemDetailsService problems, IHostApplicationLifetime lifetime) : IExceptionHandler
{
    /// <summary>Connection loss, timeouts, a busy or full database: worth retrying. Anything else is a bug and answers 500.</summary>
    public static bool IsDatabaseUnavailable(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.IsTransient,
        NpgsqlException or SocketException or TimeoutException => true,
        SqliteException sqlite => sqlite.SqliteErrorCode is 5 or 6 or 10 or 13 or 14, // BUSY, LOCKED, IOERR, FULL, CANTOPEN
        _ => exception.InnerException is { } inner && IsDatabaseUnavailable(inner),
    };

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            RunInProgressException => (StatusCodes.Status409Conflict, "A run is already in progress", exception.Message),
            OperationCanceledException when lifetime.ApplicationStopping.IsCancellationRequested =>
                (StatusCodes.Status503ServiceUnavailable, "The service is shutting down", "The request was stopped; nothing was changed. Try again shortly."),
            _ when IsDatabaseUnavailable(exception) =>
                (StatusCodes.Status503ServiceUnavailable, "The database is unavailable", "The database could not complete the request; nothing was changed. Try again when it is back."),
            _ => (StatusCodes.Status500InternalServerError, "Unexpected error", "The request failed unexpectedly; nothing was changed. The server log has the details."),
        };
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }
}
