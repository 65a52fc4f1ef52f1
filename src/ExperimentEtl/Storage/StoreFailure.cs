namespace ExperimentEtl.Storage;

/// <summary>What a database's failure means to the caller, as the store that knows the database tells (<see cref="StoreFailures"/>).</summary>
public enum StoreFailure
{
    /// <summary>Connection loss, a timeout, a busy or full database: worth retrying.</summary>
    Unavailable,

    /// <summary>Any other error the database reported: retrying will not help.</summary>
    Failed,
}
