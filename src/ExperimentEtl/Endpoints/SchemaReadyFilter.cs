using ExperimentEtl.Storage;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Answers 503 from the endpoints that need the database until the schema is in place (see <see cref="StartupSchema"/>),
/// rather than letting them fail on missing tables.
/// </summary>
public sealed class SchemaReadyFilter(StartupSchema schema) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (schema.IsReady)
        {
            return await next(context);
        }
        context.HttpContext.Response.Headers.RetryAfter = "5";
        return Problems.NotReady("The service is still preparing the database (it may be unreachable); nothing was changed. Try again shortly.");
    }
}

public static class SchemaReadyFilterExtensions
{
    /// <summary>The endpoints of the builder answer 503 until the schema is in place.</summary>
    public static TBuilder RequireSchema<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, SchemaReadyFilter>()
            .ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(Problem));
}
