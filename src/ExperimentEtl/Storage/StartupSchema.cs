using ExperimentEtl.Configuration;

namespace ExperimentEtl.Storage;

/// <summary>
/// Prepares the schema in the background from start-up on. The server listens meanwhile (<c>/healthz</c> answers;
/// <c>/readyz</c> and the endpoints that need the database answer 503), and a database that is down or still starting is
/// retried with a growing pause for as long as the process lives.
/// </summary>
public sealed partial class StartupSchema(IEtlStore store, DatabaseTarget database, TimeProvider clock, ILogger<StartupSchema> logger) : BackgroundService
{
    static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(500);
    static readonly TimeSpan LongestPause = TimeSpan.FromSeconds(15);

    readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>True once the schema is in place.</summary>
    public bool IsReady => _ready.Task.IsCompleted;

    /// <summary>Completes when the schema is in place.</summary>
    public Task Ready => _ready.Task;

    /// <summary>Creates what is missing of the schema, on demand (<c>/setup_test_db</c>) as at start-up.</summary>
    public async Task EnsureAsync(CancellationToken cancellationToken)
    {
        await store.EnsureSchemaAsync(cancellationToken);
        _ready.TrySetResult();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var pause = FirstPause;
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await EnsureAsync(stoppingToken);
                LogReady(database.Describe(), store.Provider, attempt);
                return;
            }
            catch (Exception e) when (!stoppingToken.IsCancellationRequested)
            {
                LogNotReady(database.Describe(), attempt, e.GetType().Name, e.Message, pause.TotalSeconds);
            }
            await Task.Delay(pause, clock, stoppingToken);
            pause = TimeSpan.FromTicks(Math.Min(pause.Ticks * 2, LongestPause.Ticks));
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not prepare {Database} yet (attempt {Attempt}, {ExceptionType}: {Reason}); retrying in {Seconds} s")]
    partial void LogNotReady(string database, int attempt, string exceptionType, string reason, double seconds);

    /// <param name="provider">The store's provider, known once the schema is in place: "citus" on a Citus coordinator.</param>
    [LoggerMessage(Level = LogLevel.Information, Message = "{Database} is ready as {Provider} (schema in place after {Attempt} attempt(s))")]
    partial void LogReady(string database, string provider, int attempt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Using {Database}; data folder {DataDirectory}")]
    public static partial void LogStarted(ILogger logger, string database, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} upload folder(s) of runs that a stopped process left in {UploadDirectory}")]
    public static partial void LogAbandonedUploadsDeleted(ILogger logger, int count, string uploadDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} spill folder(s) of runs that a stopped process left in {SpillDirectory}")]
    public static partial void LogAbandonedSpillsDeleted(ILogger logger, int count, string spillDirectory);
}
