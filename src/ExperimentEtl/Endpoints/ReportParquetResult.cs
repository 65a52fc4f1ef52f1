using System.Reflection;
using ExperimentEtl.Reporting;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.Metadata;

namespace ExperimentEtl.Endpoints;

/// <summary>The report as Parquet (<see cref="ReportParquetWriter"/>), streamed from one snapshot of the store to the response.</summary>
public sealed class ReportParquetResult : IResult, IEndpointMetadataProvider
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var cancellationToken = httpContext.RequestAborted;
        await using var snapshot = await httpContext.RequestServices.GetRequiredService<IEtlStore>().OpenReportAsync(cancellationToken);
        httpContext.Response.ContentType = ReportParquetWriter.MediaType;
        httpContext.Response.Headers.ContentDisposition = "attachment; filename=\"report.parquet\"";
        await ReportParquetWriter.WriteAsync(httpContext.Response.Body, snapshot.ReadUsersAsync(cancellationToken), cancellationToken);
    }

    public static void PopulateMetadata(MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(Stream), [ReportParquetWriter.MediaType]));
}
