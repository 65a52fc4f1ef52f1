namespace ExperimentEtl.Storage;

/// <summary>Creates the schema at start-up, waiting a little for a database that is still starting (as in compose).</summary>
public static partial class StartupSchema
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    public static async Task EnsureAsync(IEtlStore store, ILogger logger, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            try
            {
                await store.EnsureSchemaAsync(cancellationToken);
                return;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow < deadline)
            {
                LogNotReady(logger, e.Message);
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "The database is not ready yet ({Reason}); retrying")]
    static partial void LogNotReady(ILogger logger, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Using {Database}; data folder {DataDirectory}")]
    public static partial void LogStarted(ILogger logger, string database, string dataDirectory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Deleted {Count} upload folder(s) of runs that a stopped process left in {UploadDirectory}")]
    public static partial void LogAbandonedUploadsDeleted(ILogger logger, int count, string uploadDirectory);
}
