using ExperimentEtl.Configuration;
using ExperimentEtl.Hosting;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Endpoints;

/// <summary>The web service's registrations on top of the shared ones (<see cref="ServiceRegistration.AddEtlCore"/>).</summary>
public static class HttpRegistration
{
    /// <summary>
    /// The read side and its cache, the shutdown timeout, and the HTTP plumbing: JSON settings, the read limiter,
    /// problem details, the exception handler and the OpenAPI document.
    /// </summary>
    public static IServiceCollection AddEtlHttp(this IServiceCollection services, EtlOptions options)
    {
        services.AddSingleton<ReadModel>();
        services.AddSingleton<Storage.Changes.ChangeReads>();
        services.AddSingleton<ReportCache>();
        // A run in progress is cancelled and rolled back at SIGTERM; the process is gone well within 10 s.
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromSeconds(9));

        services.ConfigureHttpJsonOptions(json => JsonSettings.Apply(json.SerializerOptions));
        services.AddReadLimit(options.ReadConcurrency);
        services.AddProblemDetails(problems => problems.CustomizeProblemDetails = Problems.DescribeFrameworkProblem);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        // A parameter that does not parse throws (to ProblemExceptionHandler, whose answer says which) in every environment,
        // not only in Development: otherwise the framework answers a bare 400.
        services.Configure<RouteHandlerOptions>(routes => routes.ThrowOnBadRequest = true);
        services.AddApiDocument();
        return services;
    }
}
