using System.Reflection;
using ExperimentEtl.Reporting;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.Metadata;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// The report as JSON (see <see cref="ReportCache"/>) or CSV; large reports stream straight from the database to the
/// response, so a million users cost no more memory than ten.
/// </summary>
/// <param name="csv">CSV instead of JSON; otherwise chosen by the Accept header.</param>
public sealed class ReportResult(bool csv = false) : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var services = httpContext.RequestServices;
        var cancellationToken = httpContext.RequestAborted;
        if (!csv && !WantsCsv(httpContext.Request))
        {
            await services.GetRequiredService<ReportCache>().WriteAsync(httpContext.Response, cancellationToken);
            return;
        }

        await using var snapshot = await services.GetRequiredService<IEtlStore>().OpenReportAsync(cancellationToken);
        httpContext.Response.ContentType = "text/csv; charset=utf-8";
        httpContext.Response.Headers.ContentDisposition = "inline; filename=\"report.csv\"";
        await using var writer = new StreamWriter(httpContext.Response.Body, new System.Text.UTF8Encoding(false), 1 << 16);
        await ReportCsvWriter.WriteAsync(writer, snapshot.ReadUsersAsync(cancellationToken), cancellationToken);
    }

    static bool WantsCsv(HttpRequest request) =>
        request.GetTypedHeaders().Accept is { Count: > 0 } accept &&
        accept.OrderByDescending(media => media.Quality ?? 1).First().MediaType.Equals("text/csv", StringComparison.OrdinalIgnoreCase);

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(ReportResponse), ["application/json", "text/csv"]));
}
