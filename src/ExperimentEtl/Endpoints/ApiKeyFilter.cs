using System.Security.Cryptography;
using System.Text;
using ExperimentEtl.Configuration;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Guards the endpoints that change data when <c>API_KEY</c> is set: the <c>X-Api-Key</c> header must match.
/// Read endpoints stay open. Keys are compared in constant time (as hashes, so their lengths leak nothing) and never logged;
/// a refused attempt is, with where it came from.
/// </summary>
public sealed partial class ApiKeyFilter(EtlOptions options, ILogger<ApiKeyFilter> logger) : IEndpointFilter
{
    public const string Header = "X-Api-Key";

    readonly byte[]? _expected = options.ApiKey is { } key ? SHA256.HashData(Encoding.UTF8.GetBytes(key)) : null;

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        if (_expected is null)
        {
            return await next(context);
        }
        var http = context.HttpContext;
        var given = http.Request.Headers[Header].ToString();
        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(Encoding.UTF8.GetBytes(given)), _expected))
        {
            LogRefused(http.Request.Method, http.Request.Path.Value ?? "", http.Connection.RemoteIpAddress?.ToString() ?? "unknown",
                given.Length == 0 ? "no" : "a wrong");
            return TypedResults.Problem(
                statusCode: StatusCodes.Status401Unauthorized,
                title: "An API key is required",
                detail: $"This endpoint changes data: send the service's API key in the {Header} header.",
                type: "https://experiment-etl.dev/problems/api-key");
        }
        return await next(context);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Method} {Path} from {RemoteAddress}: {Which} " + Header + " header")]
    partial void LogRefused(string method, string path, string remoteAddress, string which);
}

public static class ApiKeyFilterExtensions
{
    /// <summary>Requires the API key (when one is configured) on every endpoint of the builder.</summary>
    public static TBuilder RequireApiKey<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter<TBuilder, ApiKeyFilter>()
            .WithMetadata(ApiKeyRequired.Instance)
            .ProducesProblemOf(StatusCodes.Status401Unauthorized, typeof(Problem));
}

/// <summary>Marks the endpoints that take the API key, for the OpenAPI document's security requirements.</summary>
public sealed class ApiKeyRequired
{
    public static readonly ApiKeyRequired Instance = new();

    ApiKeyRequired()
    {
    }
}
