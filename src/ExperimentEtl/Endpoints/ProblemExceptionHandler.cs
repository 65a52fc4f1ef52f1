using ExperimentEtl.Model;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Diagnostics;

namespace ExperimentEtl.Endpoints;

/// <summary>Turns exceptions into problem details a person can act on; the stack trace stays in the log.</summary>
public sealed partial class ProblemExceptionHandler(
    IProblemDetailsService problems, IHostApplicationLifetime lifetime, ILogger<ProblemExceptionHandler> logger) : IExceptionHandler
{
    /// <summary>A file system full (ENOSPC), or over its quota (EDQUOT); on Windows ERROR_DISK_FULL or ERROR_HANDLE_DISK_FULL.</summary>
    public static bool IsDiskFull(Exception exception) => exception switch
    {
        IOException io when OperatingSystem.IsWindows() => io.HResult is unchecked((int)0x80070070) or unchecked((int)0x80070027),
        IOException io => io.HResult == 28 || io.HResult == (OperatingSystem.IsLinux() ? 122 : 69),
        _ => exception.InnerException is { } inner && IsDiskFull(inner),
    };

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        var (status, title, detail) = exception switch
        {
            RunInProgressException => (StatusCodes.Status409Conflict, "A run is already in progress", exception.Message),
            // The client's mistake (a parameter that does not parse: thrown rather than answered in Development), not a bug.
            BadHttpRequestException bad => (bad.StatusCode, "Bad request", bad.Message),
            OperationCanceledException when lifetime.ApplicationStopping.IsCancellationRequested =>
                (StatusCodes.Status503ServiceUnavailable, "The service is shutting down", "The request was stopped; nothing was changed. Try again shortly."),
            // Connection loss, timeouts, a busy or full database: worth retrying. Anything else is a bug and answers 500.
            _ when StoreFailures.IsUnavailable(exception) =>
                (StatusCodes.Status503ServiceUnavailable, "The database is unavailable", "The database could not complete the request; nothing was changed. Try again when it is back."),
            _ when IsDiskFull(exception) =>
                (StatusCodes.Status507InsufficientStorage, "The server is out of disk space",
                    "The server ran out of space to store the request; nothing was loaded and the previous data is unchanged. Try again when space has been freed."),
            _ => (StatusCodes.Status500InternalServerError, "Unexpected error", "The request failed unexpectedly; nothing was changed. The server log has the details."),
        };
        // UseExceptionHandler logs nothing once a handler has answered (.NET 10), so the log is written here: a bug with its
        // stack trace; a known condition as one line (which may name a path: the log is where paths belong, not the answer).
        var path = httpContext.Request.Path.Value ?? "";
        switch (status)
        {
            case StatusCodes.Status500InternalServerError:
                LogUnexpected(exception, httpContext.Request.Method, path);
                break;
            case StatusCodes.Status503ServiceUnavailable or StatusCodes.Status507InsufficientStorage:
                LogUnavailable(status, httpContext.Request.Method, path, exception.GetType().Name, exception.Message);
                break;
        }
        httpContext.Response.StatusCode = status;
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Unexpected error answering {Method} {Path}; answered 500")]
    partial void LogUnexpected(Exception exception, string method, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Answered {Status} to {Method} {Path}: {ExceptionType}: {Reason}")]
    partial void LogUnavailable(int status, string method, string path, string exceptionType, string reason);
}
