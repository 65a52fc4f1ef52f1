using System.Reflection;
using System.Text.Json;
using ExperimentEtl.Reporting;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Streams the report straight from the database to the response, so a million users cost no more memory than ten.
/// </summary>
/// <param name="csv">CSV instead of JSON; otherwise chosen by the Accept header.</param>
public sealed class ReportResult(bool csv = false) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var services = httpContext.RequestServices;
        var store = services.GetRequiredService<IEtlStore>();
        var cancellationToken = httpContext.RequestAborted;

        await using var snapshot = await store.OpenReportAsync(cancellationToken);
        if (csv || WantsCsv(httpContext.Request))
        {
            httpContext.Response.ContentType = "text/csv; charset=utf-8";
            httpContext.Response.Headers.ContentDisposition = "inline; filename=\"report.csv\"";
            await using var writer = new StreamWriter(httpContext.Response.Body, new System.Text.UTF8Encoding(false), 1 << 16);
            await ReportCsvWriter.WriteAsync(writer, snapshot.ReadUsersAsync(cancellationToken), cancellationToken);
            return;
        }
        var json = services.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        var response = ReportResponse.From(snapshot, cancellationToken);
        httpContext.Response.ContentType = "application/json; charset=utf-8";
        await JsonSerializer.SerializeAsync(httpContext.Response.Body, response, json, cancellationToken);
    }

    static bool WantsCsv(HttpRequest request) =>
        request.GetTypedHeaders().Accept is { Count: > 0 } accept &&
        accept.OrderByDescending(media => media.Quality ?? 1).First().MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(ReportResponse), ["application/json", "text/csv"]));
}
