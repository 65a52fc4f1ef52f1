using System.Diagnostics;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Logging.Console;
using Npgsql;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace ExperimentEtl.Telemetry;

/// <summary>
/// OpenTelemetry for the web service: metrics always (scraped at <c>/metrics</c>), traces and OTLP export only when
/// <c>OTEL_EXPORTER_OTLP_ENDPOINT</c> is set; JSON console logs with scopes; correlation ids in problem answers.
/// </summary>
public static class TelemetryRegistration
{
    public const string MetricsPath = "/metrics";

    public static IServiceCollection AddEtlTelemetry(this IServiceCollection services, IConfiguration configuration)
    {
        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource =>
            {
                // OTEL_SERVICE_NAME and a service.name in OTEL_RESOURCE_ATTRIBUTES win over this default.
                if (string.IsNullOrEmpty(configuration["OTEL_SERVICE_NAME"]) &&
                    configuration["OTEL_RESOURCE_ATTRIBUTES"]?.Contains("service.name=", StringComparison.Ordinal) != true)
                {
                    resource.AddService(EtlTelemetry.Name);
                }
            })
            .WithMetrics(metrics => metrics
                .AddMeter(EtlTelemetry.Name, "Npgsql")
                .AddAspNetCoreInstrumentation()
                .AddRuntimeInstrumentation()
                .AddPrometheusExporter());
        // Spans are only recorded when something exports them: without an endpoint, tracing costs nothing.
        if (!string.IsNullOrEmpty(configuration["OTEL_EXPORTER_OTLP_ENDPOINT"]))
        {
            telemetry.WithTracing(tracing => AddTraceSources(tracing)).UseOtlpExporter();
        }

        services.Configure<JsonConsoleFormatterOptions>(options =>
        {
            // A run's lines carry its run id as a scope, and every line its trace and span ids: shown unless switched off.
            options.IncludeScopes = configuration.GetValue("Logging:Console:FormatterOptions:IncludeScopes", true);
            options.UseUtcTimestamp = configuration.GetValue("Logging:Console:FormatterOptions:UseUtcTimestamp", true);
            options.TimestampFormat = configuration["Logging:Console:FormatterOptions:TimestampFormat"] ?? "yyyy-MM-ddTHH:mm:ss.fffZ";
        });

        services.Configure<ProblemDetailsOptions>(options =>
        {
            var previous = options.CustomizeProblemDetails;
            options.CustomizeProblemDetails = context =>
            {
                previous?.Invoke(context);
                AddCorrelation(context.HttpContext, context.ProblemDetails.Extensions);
            };
        });
        return services;
    }

    /// <summary>The spans the service makes: its own (runs), HTTP requests, and Npgsql's commands.</summary>
    public static TracerProviderBuilder AddTraceSources(TracerProviderBuilder tracing) => tracing
        .AddSource(EtlTelemetry.Name)
        .AddAspNetCoreInstrumentation(options => options.Filter = context => !IsProbe(context.Request.Path))
        .AddNpgsql();

    /// <summary>Serves the Prometheus text format at <see cref="MetricsPath"/>.</summary>
    public static IEndpointConventionBuilder MapEtlMetrics(this IEndpointRouteBuilder endpoints) =>
        endpoints.MapPrometheusScrapingEndpoint(MetricsPath).ExcludeFromDescription();

    static bool IsProbe(PathString path) =>
        path.StartsWithSegments(MetricsPath) || path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz");

    /// <summary>
    /// <c>trace_id</c>: the W3C trace id (the caller's, when it sent a <c>traceparent</c>), which every log line of the
    /// request carries; <c>request_id</c>: the caller's <c>X-Request-Id</c>, else the server's request id (<c>RequestId</c> in the log).
    /// </summary>
    static void AddCorrelation(HttpContext http, IDictionary<string, object?> extensions)
    {
        extensions.Remove("traceId"); // ASP.NET Core's own, in another spelling and format.
        var activity = http.Features.Get<IHttpActivityFeature>()?.Activity ?? Activity.Current;
        if (activity is not null)
        {
            extensions["trace_id"] = activity.TraceId.ToHexString();
        }
        extensions["request_id"] = http.Request.Headers["X-Request-Id"] is [{ Length: > 0 and <= 128 } id] && id.All(IsSafe)
            ? id
            : http.TraceIdentifier;
    }

    static bool IsSafe(char c) => c is >= '!' and <= '~';
}
