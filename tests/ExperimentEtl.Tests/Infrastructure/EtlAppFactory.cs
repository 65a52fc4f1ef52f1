using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>The databases every behaviour is checked against.</summary>
public enum Backend
{
    Sqlite,
    SqliteFile,
    Postgres,

    /// <summary>A Citus coordinator with two workers (<see cref="TestCitus"/>).</summary>
    Citus,
}

/// <summary>The backends a theory runs on, named once for every test class.</summary>
public static class Backends
{
    public static TheoryData<Backend> All => [Backend.Sqlite, Backend.SqliteFile, Backend.Postgres, Backend.Citus];

    /// <summary>Database servers, which several service processes can share.</summary>
    public static TheoryData<Backend> Servers => [Backend.Postgres, Backend.Citus];

    /// <summary>The backends whose data outlives the process (the default ephemeral one is deleted with it).</summary>
    public static TheoryData<Backend> Durable => [Backend.SqliteFile, Backend.Postgres, Backend.Citus];
}

/// <summary>The real app in memory (<c>WebApplicationFactory</c>) on a fresh database of the chosen kind.</summary>
public sealed class EtlAppFactory : WebApplicationFactory<Program>
{
    readonly string? _databaseUrl;
    readonly string _dataDirectory;
    readonly string? _sqliteDirectory;
    readonly IReadOnlyDictionary<string, string> _settings;

    // The app would also read API_KEY from this process's environment; the tests set it through settings. (The test host
    // passes settings as command-line arguments, so a setting cannot unset it: an empty key is a start-up error.)
    static EtlAppFactory() => Environment.SetEnvironmentVariable("API_KEY", null);

    EtlAppFactory(string? databaseUrl, string dataDirectory, string? sqliteDirectory, IReadOnlyDictionary<string, string>? settings)
    {
        _databaseUrl = databaseUrl;
        _dataDirectory = dataDirectory;
        _sqliteDirectory = sqliteDirectory;
        _settings = settings ?? new Dictionary<string, string>();
    }

    /// <summary>What the app logged.</summary>
    public LogCapture Logs { get; } = new();

    /// <summary>The database the app serves: a PostgreSQL URL, a SQLite file, or null for the default ephemeral one.</summary>
    public string? DatabaseUrl => _databaseUrl;

    /// <param name="settings">Further configuration, e.g. <c>API_KEY</c>.</param>
    public static async Task<EtlAppFactory> CreateAsync(Backend backend, string dataDirectory, IReadOnlyDictionary<string, string>? settings = null)
    {
        switch (backend)
        {
            case Backend.Postgres:
                return new EtlAppFactory(await TestPostgres.CreateDatabaseAsync(), dataDirectory, null, settings);
            case Backend.Citus:
                return new EtlAppFactory(await TestCitus.CreateDatabaseAsync(), dataDirectory, null, settings);
            case Backend.SqliteFile:
                var directory = Directory.CreateTempSubdirectory("etl-test-sqlite-").FullName;
                return new EtlAppFactory(Path.Combine(directory, "experiments.db"), dataDirectory, directory, settings);
            default:
                return new EtlAppFactory(null, dataDirectory, null, settings);
        }
    }

    /// <summary>A fresh database on the PostgreSQL or Citus server of the tests, for apps and processes that share it.</summary>
    public static Task<string> CreateServerDatabaseAsync(Backend backend) => backend switch
    {
        Backend.Postgres => TestPostgres.CreateDatabaseAsync(),
        Backend.Citus => TestCitus.CreateDatabaseAsync(),
        _ => throw new ArgumentOutOfRangeException(nameof(backend), backend, "not a database server"),
    };

    /// <summary>An app on a database given by the caller, e.g. a second replica on the same PostgreSQL database.</summary>
    public static Task<EtlAppFactory> CreateWithDatabaseAsync(string databaseUrl, string dataDirectory, IReadOnlyDictionary<string, string>? settings = null) =>
        Task.FromResult(new EtlAppFactory(databaseUrl, dataDirectory, null, settings));

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DATABASE_URL", _databaseUrl ?? "");
        builder.UseSetting("API_DB_PATH", "");
        builder.UseSetting("ETL_DATA_DIR", _dataDirectory);
        foreach (var (key, value) in _settings)
        {
            builder.UseSetting(key, value);
        }
        builder.ConfigureServices(services => services.AddLogging(logging => logging.AddProvider(Logs)));
    }

    protected override IHost CreateHost(IHostBuilder builder)
    {
        var host = base.CreateHost(builder);
        // The schema is prepared in the background; tests start from a ready service, as ServerProcess waits for /readyz.
        host.Services.GetRequiredService<ExperimentEtl.Storage.StartupSchema>().Ready.Wait(TimeSpan.FromSeconds(60));
        return host;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _sqliteDirectory is not null)
        {
            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(_sqliteDirectory, recursive: true);
        }
    }
}
