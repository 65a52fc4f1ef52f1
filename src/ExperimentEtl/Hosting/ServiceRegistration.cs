using ExperimentEtl.Configuration;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using ExperimentEtl.Storage.Postgres;
using ExperimentEtl.Storage.Sqlite;
using Npgsql;

namespace ExperimentEtl.Hosting;

/// <summary>
/// The registrations the web service and the command-line tool share: settings, the store and its schema, the run
/// manager and the start-up housekeeping. The web service adds its HTTP plumbing (<c>Endpoints/HttpRegistration.cs</c>).
/// </summary>
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

    /// <summary>Registers the settings, the store chosen by configuration, the run manager and the start-up housekeeping.</summary>
    /// <remarks>The web service starts them as hosted services; the command-line tool calls what it needs of them.</remarks>
    /// <returns>The settings registered, for the web service's own registrations.</returns>
    /// <exception cref="ConfigurationException">A setting is missing or wrong.</exception>
    public static EtlOptions AddEtlCore(this IServiceCollection services, IConfiguration configuration)
    {
        var database = DatabaseTarget.From(configuration);
        services.AddSingleton(database);
        var options = EtlOptions.From(configuration);
        services.AddSingleton(options);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(options.ChangeLists);

        if (database.Kind == DatabaseKind.Postgres)
        {
            services.AddSingleton(_ => CreateDataSource(database.ConnectionString!));
            services.AddSingleton<IEtlStore, PostgresServerStore>();
        }
        else
        {
            services.AddSingleton<IEtlStore>(_ => new SqliteEtlStore(database.ConnectionString, options.ChangeLists));
        }
        services.AddSingleton<ScratchHousekeeping>();
        services.AddHostedService(provider => provider.GetRequiredService<ScratchHousekeeping>());
        // Hosted services start in this order: the schema's first attempt before the run manager's first sweep.
        services.AddSingleton<StartupSchema>();
        services.AddHostedService(provider => provider.GetRequiredService<StartupSchema>());
        services.AddSingleton<RunManager>();
        services.AddHostedService(provider => provider.GetRequiredService<RunManager>());
        return options;
    }
}
