using System.Diagnostics;
using Npgsql;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// The real PostgreSQL server the tests use: the one named by <c>ETL_TEST_DATABASE_URL</c> (what .ci/run starts),
/// else a throwaway cluster started here with <c>scripts/pg-cluster.sh</c> and stopped when the test run ends.
/// Tests that need it fail (never skip) when neither is possible.
/// </summary>
public static class TestPostgres
{
    static readonly Lazy<Task<string>> Server = new(StartAsync);

    /// <summary>Creates an empty database for one test class or test and returns its connection string.</summary>
    public static async Task<string> CreateDatabaseAsync()
    {
        var server = new NpgsqlConnectionStringBuilder(await Server.Value);
        var name = "etl_test_" + Guid.NewGuid().ToString("N")[..12];
        await using (var connection = new NpgsqlConnection(server.ConnectionString))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE {name}", connection);
            await command.ExecuteNonQueryAsync();
        }
        server.Database = name;
        server.Pooling = false;
        return server.ConnectionString;
    }

    static async Task<string> StartAsync()
    {
        var url = Environment.GetEnvironmentVariable("ETL_TEST_DATABASE_URL");
        if (!string.IsNullOrEmpty(url))
        {
            return Configuration.DatabaseTarget.Parse(url).ConnectionString!;
        }
        var directory = Directory.CreateTempSubdirectory("etl-test-pg-").FullName;
        var script = Path.Combine(RepositoryRoot(), "scripts", "pg-cluster.sh");
        string output;
        try
        {
            output = await Shell.RunAsync("bash", script, "start", directory);
        }
        catch (InvalidOperationException e)
        {
            throw new InvalidOperationException($"No PostgreSQL for the tests: set ETL_TEST_DATABASE_URL or install PostgreSQL 15. {e.Message}", e);
        }
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            Shell.RunAsync("bash", script, "stop", directory).GetAwaiter().GetResult();
            Directory.Delete(directory, recursive: true);
        };
        return Configuration.DatabaseTarget.Parse(output.Trim()).ConnectionString!;
    }

    public static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "ExperimentEtl.slnx")))
        {
            directory = directory.Parent;
        }
        return directory?.FullName ?? throw new InvalidOperationException("The repository root was not found.");
    }
}

/// <summary>Runs a command and returns what it printed; throws with its error output when it fails.</summary>
public static class Shell
{
    public static async Task<string> RunAsync(string file, params string[] arguments)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        // The clusters the tests start stop when this process ends, also when it ends before its exit handlers run.
        info.Environment["PG_CLUSTER_OWNER_PID"] = Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {await stderr}");
        }
        return await stdout;
    }
}
