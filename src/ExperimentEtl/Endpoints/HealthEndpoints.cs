using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>Liveness and readiness probes for orchestrators and the container's HEALTHCHECK.</summary>
public static class HealthEndpoints
{
    public sealed record HealthResponse(string Status, string? Database = null);

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("").WithTags("Health");

        group.MapGet("/healthz", () => TypedResults.Ok(new HealthResponse("ok")))
            .WithSummary("The process is up");

        group.MapGet("/readyz", ReadyAsync)
            .WithSummary("The database answers and the schema is in place (503 otherwise)");

        return app;
    }

    static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> ReadyAsync(IEtlStore store, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        return await store.IsReadyAsync(timeout.Token)
            ? TypedResults.Ok(new HealthResponse("ready", store.Provider))
            : Problems.DatabaseUnavailable("The database does not answer, or its tables are missing (GET /setup_test_db creates them).");
    }
}
