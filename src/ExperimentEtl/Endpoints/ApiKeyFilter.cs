using System.Security.Cryptography;
using System.Text;
using ExperimentEtl.Configuration;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Guards the endpoints that change data when <c>API_KEY</c> is set: the <c>X-Api-Key</c> header must match.
/// Read endpoints stay open. Keys are compared in constant time (as hashes, so their lengths leak nothing) and never logged.
/// </summary>
public sealed class ApiKeyFilter(EtlOptions options) : IEndpointFilter
{
    public const string Header = "X-Api-Key";

    readonly byte[]? _expected = options.ApiKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_expected is null)
        {
            return await next(context);
        }
        var given = context.HttpContext.Request.Headers[Header].ToString();
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), _expected))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "An API key is required",
                detail: $"This endpoint changes data: send the service's API key in the {Header} header.",
                type: "https://experiment-etl.dev/problems/api-key");
        }
        return await next(context);
    }
}

public static class ApiKeyFilterExtensions
{
    /// <summary>Requires the API key (when one is configured) on every endpoint of the builder.</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, ApiKeyFilter>()
            .ProducesProblem(StatusCodes.Status401Unauthorized);
}
