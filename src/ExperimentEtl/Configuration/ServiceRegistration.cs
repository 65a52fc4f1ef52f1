using System.Text.Json;
using System.Text.Json.Serialization;
using ExperimentEtl.Endpoints;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using ExperimentEtl.Storage.Postgres;
using ExperimentEtl.Storage.Sqlite;
using Npgsql;

namespace ExperimentEtl.Configuration;

public static class ServiceRegistration
{
    /// <remarks>
    /// No parallel workers for the service's queries: they are short (a page, one user) or stream (the report), and
    /// under 32 concurrent readers on 2 cores the workers PostgreSQL started for a page with <c>q</c> competed with
    /// everything else: 94 pages/s at p99 1.5 s with them, 286 at p99 218 ms without (1M users, docs/benchmarks.md).
    /// Index builds are not affected (they use max_parallel_maintenance_workers).
    /// </remarks>
    static NpgsqlDataSource CreateDataSource(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        builder.Options = $"{builder.Options} -c max_parallel_workers_per_gather=0".Trim();
        // The service's statements set nothing beyond their transaction (SET LOCAL, transaction-level advisory locks),
        // so a pooled connection need not be reset: the reset cost PostgreSQL 0.3 ms on every request.
        builder.NoResetOnClose = true;
        return NpgsqlDataSource.Create(builder.ConnectionString);
    }

    /// <summary>Registers the store chosen by configuration, the ETL and the HTTP plumbing.</summary>
    /// <exception cref="ConfigurationException">A setting is missing or wrong.</exception>
    public static IServiceCollection AddExperimentEtl(this IServiceCollection services, IConfiguration configuration)
    {
        var database = DatabaseTarget.From(configuration);
        services.AddSingleton(database);
        var options = EtlOptions.From(configuration);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);

        if (database.Kind == DatabaseKind.Postgres)
        {
            services.AddSingleton(_ => CreateDataSource(database.ConnectionString!));
            services.AddSingleton<IEtlStore, PostgresServerStore>();
        }
        else
        {
            services.AddSingleton<IEtlStore>(_ => new SqliteEtlStore(database.ConnectionString));
        }
        services.AddSingleton<ReadModel>();
        services.AddSingleton<ReportCache>();
        services.AddSingleton<StartupSchema>();
        services.AddHostedService(provider => provider.GetRequiredService<StartupSchema>());
        services.AddSingleton<RunManager>();
        services.AddHostedService(provider => provider.GetRequiredService<RunManager>());
        // A run in progress is cancelled and rolled back at SIGTERM; the process is gone well within 10 s.
        services.Configure<HostOptions>(options => options.ShutdownTimeout = TimeSpan.FromSeconds(9));

        // The seed answered in snake_case; every JSON answer of the service does the same.
        services.ConfigureHttpJsonOptions(options =>
        {
            options.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
            options.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
            // Numbers are written as numbers, and the service reads no JSON: the web default (numbers also read from
            // strings) made the OpenAPI document type every number as number-or-string.
            options.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
        });
        services.AddReadLimit(options.ReadConcurrency);
        services.AddProblemDetails(options => options.CustomizeProblemDetails = Problems.DescribeFrameworkProblem);
        services.AddExceptionHandler<ProblemExceptionHandler>();
        // A parameter that does not parse throws (to ProblemExceptionHandler, whose answer says which) in every environment,
        // not only in Development: otherwise the framework answers a bare 400.
        services.Configure<RouteHandlerOptions>(options => options.ThrowOnBadRequest = true);
        services.AddApiDocument();
        return services;
    }
}
