using ExperimentEtl.Model;

namespace ExperimentEtl.Endpoints;

// The shapes of the problem answers that Problems, ProblemExceptionHandler and the framework send, as the OpenAPI document
// types them: the standard members plus the extensions each kind carries (trace_id and request_id come from the
// telemetry's CustomizeProblemDetails). The contract test checks every answer against them.

/// <summary>An RFC 9457 problem answer.</summary>
public class Problem
{
    /// <summary>A URI naming the kind of problem; absent only where the framework knows none (e.g. 507).</summary>
    public string? Type { get; init; }

    public required string Title { get; init; }

    public required int Status { get; init; }

    /// <summary>What happened and what to do, in words a person can act on.</summary>
    public string? Detail { get; init; }

    /// <summary>The W3C trace id every log line of the request carries (the caller's, when it sent a traceparent).</summary>
    public string? TraceId { get; init; }

    /// <summary>The caller's X-Request-Id, else the server's request id.</summary>
    public required string RequestId { get; init; }
}

/// <summary>400: a parameter the service cannot use; <c>errors</c> lists the messages by parameter name.</summary>
public sealed class InvalidParametersProblem : Problem
{
    public IReadOnlyDictionary<string, IReadOnlyList<string>>? Errors { get; init; }
}

/// <summary>422: the input files are not valid; nothing was loaded.</summary>
public sealed class InvalidInputProblem : Problem
{
    public required Guid RunId { get; init; }

    /// <summary>Every error found; <c>errors</c> lists the first 100.</summary>
    public required long ErrorCount { get; init; }

    public required IReadOnlyList<RowError> Errors { get; init; }
}

/// <summary>409: another run is in progress (<c>running_run_id</c>, when known), or the run ended otherwise (<c>run_id</c>).</summary>
public sealed class RunConflictProblem : Problem
{
    public Guid? RunningRunId { get; init; }

    public Guid? RunId { get; init; }
}

/// <summary>500 or 503 from a request that waited for its run: <c>run_id</c> names the run that failed.</summary>
public sealed class RunFailedProblem : Problem
{
    public Guid? RunId { get; init; }
}

public static class ProblemShapeExtensions
{
    /// <summary>Declares a problem answer of the given status and shape (<see cref="Problem"/> or one of its kinds).</summary>
    public static TBuilder ProducesProblemOf<TBuilder>(this TBuilder builder, int statusCode, Type shape) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ProducesResponseTypeMetadata(statusCode, shape, ["application/problem+json"]));
}
