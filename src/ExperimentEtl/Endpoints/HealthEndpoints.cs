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
            .WithName("GetHealth")
            .WithSummary("The process is up");

        group.MapGet("/readyz", ReadyAsync)
            .WithName("GetReadiness")
            .WithSummary("The database answers and the schema is in place (503 otherwise, and from the start of shutdown)")
            .ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(Problem));

        return app;
    }

    static async Task<Results<Ok<HealthResponse>, ProblemHttpResult>> ReadyAsync(
        IEtlStore store, StartupSchema schema, IHostApplicationLifetime lifetime, CancellationToken cancellationToken)
    {
        // Not ready from the first moment of shutdown, so that load balancers stop sending before the process exits.
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return Problems.NotReady("not ready: the service is shutting down.");
        }
        if (!schema.IsReady)
        {
            return Problems.NotReady("not ready: preparing the schema… (the server log says what the database answered).");
        }
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(5));
        return await store.IsReadyAsync(timeout.Token)
            ? TypedResults.Ok(new HealthResponse("ready", store.Provider))
            : Problems.DatabaseUnavailable("The database does not answer, or its tables are missing (GET /setup_test_db creates them).");
    }
}
