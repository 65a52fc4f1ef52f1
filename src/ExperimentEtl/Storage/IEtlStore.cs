namespace ExperimentEtl.Storage;

/// <summary>
/// A database the service loads data sets into and reports from, with the runs' records beside them: the store
/// registered, in all its roles. SQL lives in the implementations.
/// </summary>
public interface IEtlStore : IDataSetStore, IRunStore, IReadStore;
