using System.Text.Json;
using ExperimentEtl.Configuration;
using ExperimentEtl.Hosting;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Cli;

/// <summary>
/// The registrations the tool shares with the service (<see cref="ServiceRegistration.AddEtlCore"/>), without the web host:
/// the same settings, store, run manager, start-up housekeeping and JSON, so a command-line run validates, loads and
/// reports exactly as the service does.
/// </summary>
sealed class CliServices : IAsyncDisposable
{
    readonly ServiceProvider _provider;

    CliServices(ServiceProvider provider)
    {
        _provider = provider;
        Database = provider.GetRequiredService<DatabaseTarget>();
    }

    public DatabaseTarget Database { get; }

    public IEtlStore Store => _provider.GetRequiredService<IEtlStore>();

    public RunManager Runs => _provider.GetRequiredService<RunManager>();

    public EtlOptions Options => _provider.GetRequiredService<EtlOptions>();

    /// <summary>The JSON settings of the HTTP answers (snake_case), so <c>--json</c> prints what GET /report answers.</summary>
    public JsonSerializerOptions Json { get; } = JsonSettings.ForAnswers();

    /// <param name="databaseUrl">The <c>--db</c> option: takes precedence over DATABASE_URL and API_DB_PATH.</param>
    /// <exception cref="ConfigurationException">A setting is missing or malformed.</exception>
    public static CliServices Create(string? databaseUrl)
    {
        // The service's sources less the command line (which is ours): appsettings.json next to the executable, as the
        // service reads it whatever the working folder, then the environment.
        var configuration = new ConfigurationManager();
        configuration.AddJsonFile(Path.Combine(AppContext.BaseDirectory, "appsettings.json"), optional: true, reloadOnChange: false);
        configuration.AddEnvironmentVariables();
        if (databaseUrl is not null)
        {
            configuration["DATABASE_URL"] = databaseUrl;
        }
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        // No log output: the run's failures are reported as one line each, never with the stack trace the log would carry.
        services.AddLogging();
        services.AddEtlCore(configuration);
        return new CliServices(services.BuildServiceProvider());
    }

    /// <summary>The service's start-up housekeeping: deletes what runs of killed processes left on disk.</summary>
    public Task CleanUpAsync(CancellationToken cancellationToken) =>
        _provider.GetRequiredService<ScratchHousekeeping>().StartAsync(cancellationToken);

    /// <summary>Creates the schema (as the service does at start-up), failing at once with one line when the database cannot be used.</summary>
    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Store.EnsureSchemaAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            throw new CliException($"cannot use {Database.Describe()}: {CliErrors.Describe(e)}");
        }
    }

    public ValueTask DisposeAsync() => _provider.DisposeAsync();
}

static class CliErrors
{
    /// <summary>An exception as one line: its message, and its cause's when that adds something (e.g. "Connection refused").</summary>
    public static string Describe(Exception e)
    {
        var message = OneLine(e.Message);
        if (e.InnerException is { Message: { Length: > 0 } inner } && !message.Contains(OneLine(inner), StringComparison.Ordinal))
        {
            message = $"{message.TrimEnd('.')} ({OneLine(inner).TrimEnd('.')})";
        }
        return message;
    }

    /// <summary>A message on one line: line breaks become spaces.</summary>
    public static string OneLine(string text) =>
        string.Join(' ', text.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    /// <summary>A value from a file on one line: line breaks and tabs shown as escapes.</summary>
    public static string Escape(string text) =>
        text.Replace("\r", "\\r", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal);
}
