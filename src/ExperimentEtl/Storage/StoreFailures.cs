using System.Net.Sockets;
using ExperimentEtl.Storage.Postgres;
using ExperimentEtl.Storage.Sqlite;

namespace ExperimentEtl.Storage;

/// <summary>
/// Tells database failures from other exceptions, so that the pipeline and the endpoints name no database library:
/// each store classifies its own library's exceptions.
/// </summary>
public static class StoreFailures
{
    static readonly Func<Exception, StoreFailure?>[] Classifiers = [PostgresStoreBase.ClassifyFailure, SqliteEtlStore.ClassifyFailure];

    /// <summary>What <paramref name="exception"/> itself (not its inner exceptions) says of the database; null when it is no database failure.</summary>
    public static StoreFailure? Classify(Exception exception)
    {
        foreach (var classify in Classifiers)
        {
            if (classify(exception) is { } failure)
            {
                return failure;
            }
        }
        // The network and timeouts, whichever database was being reached.
        return exception is SocketException or TimeoutException ? StoreFailure.Unavailable : null;
    }

    /// <summary>
    /// Connection loss, timeouts, a busy or full database: worth retrying. An exception that is no database failure is
    /// judged by its inner exception.
    /// </summary>
    public static bool IsUnavailable(Exception exception) => Classify(exception) switch
    {
        { } failure => failure == StoreFailure.Unavailable,
        null => exception.InnerException is { } inner && IsUnavailable(inner),
    };
}
