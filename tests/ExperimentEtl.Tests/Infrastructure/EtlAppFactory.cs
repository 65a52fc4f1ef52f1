using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>The databases every behaviour is checked against.</summary>
public enum Backend
{
    Sqlite,
    SqliteFile,
    Postgres,
}

/// <summary>The real app in memory (<c>WebApplicationFactory</c>) on a fresh database of the chosen kind.</summary>
public sealed class EtlAppFactory : WebApplicationFactory<Program>
{
    readonly string? _databaseUrl;
    readonly string _dataDirectory;
    readonly string? _sqliteDirectory;

    EtlAppFactory(string? databaseUrl, string dataDirectory, string? sqliteDirectory)
    {
        _databaseUrl = databaseUrl;
        _dataDirectory = dataDirectory;
        _sqliteDirectory = sqliteDirectory;
    }

    public static async Task<EtlAppFactory> CreateAsync(Backend backend, string dataDirectory)
    {
        switch (backend)
        {
            case Backend.Postgres:
                return new EtlAppFactory(await TestPostgres.CreateDatabaseAsync(), dataDirectory, null);
            case Backend.SqliteFile:
                var directory = Directory.CreateTempSubdirectory("etl-test-sqlite-").FullName;
                return new EtlAppFactory(Path.Combine(directory, "experiments.db"), dataDirectory, directory);
            default:
                return new EtlAppFactory(null, dataDirectory, null);
        }
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseSetting("DATABASE_URL", _databaseUrl ?? "");
        builder.UseSetting("API_DB_PATH", "");
        builder.UseSetting("ETL_DATA_DIR", _dataDirectory);
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
