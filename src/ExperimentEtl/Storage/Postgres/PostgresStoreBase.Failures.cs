using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>Which of Npgsql's failures are worth retrying.</summary>
public abstract partial class PostgresStoreBase
{
    /// <summary>Npgsql's failures (PostgreSQL and Citus): an error the server reports is worth retrying when it says it is transient; one of the connection always.</summary>
    internal static StoreFailure? ClassifyFailure(Exception exception) => exception switch
    {
        PostgresException postgres => postgres.IsTransient ? StoreFailure.Unavailable : StoreFailure.Failed,
        NpgsqlException => StoreFailure.Unavailable,
        _ => null,
    };
}
