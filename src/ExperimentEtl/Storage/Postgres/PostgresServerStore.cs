using System.Data.Common;
using ExperimentEtl.Model;
using ExperimentEtl.Storage.Citus;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// The store for a DATABASE_URL that names a PostgreSQL server: <see cref="CitusEtlStore"/> when the server turns out to
/// be a Citus coordinator with workers, else <see cref="PostgresEtlStore"/>. The server may be down when the service
/// starts, so the choice is made once, by the first <see cref="EnsureSchemaAsync"/> that reaches it (start-up retries
/// it until then); this is the one place that knows both.
/// </summary>
/// <param name="changes">How much of each load's change list to keep; the defaults when not given.</param>
public sealed class PostgresServerStore(NpgsqlDataSource dataSource, ChangeListSettings? changes = null) : IEtlStore
{
    readonly ChangeListSettings _changes = changes ?? ChangeListSettings.Default;
    volatile PostgresStoreBase _store = new PostgresEtlStore(dataSource, changes ?? ChangeListSettings.Default);
    volatile bool _detected;

    public string Provider => _store.Provider;

    public async Task EnsureSchemaAsync(CancellationToken cancellationToken)
    {
        if (!_detected)
        {
            if (await CitusEtlStore.IsCoordinatorAsync(dataSource, cancellationToken))
            {
                _store = new CitusEtlStore(dataSource, _changes);
            }
            _detected = true;
        }
        await _store.EnsureSchemaAsync(cancellationToken);
    }

    public Task<bool> IsReadyAsync(CancellationToken cancellationToken) => _store.IsReadyAsync(cancellationToken);

    public IDataSetLoad BeginLoad() => _store.BeginLoad();

    public IDataSetPatch? BeginPatch() => _store.BeginPatch();

    public string? ComparisonStatePath => _store.ComparisonStatePath;

    public bool SharedByProcesses => _store.SharedByProcesses;

    public Task SaveRunAsync(RunRecord run, CancellationToken cancellationToken) => _store.SaveRunAsync(run, cancellationToken);

    public Task<bool> SaveRunProgressAsync(RunRecord run, CancellationToken cancellationToken) => _store.SaveRunProgressAsync(run, cancellationToken);

    public Task<RunRecord?> GetRunAsync(Guid runId, CancellationToken cancellationToken) => _store.GetRunAsync(runId, cancellationToken);

    public Task<IReadOnlyList<RunRecord>> ListRunsAsync(int limit, Guid? before, CancellationToken cancellationToken) =>
        _store.ListRunsAsync(limit, before, cancellationToken);

    public Task<Guid?> FindActiveRunAsync(CancellationToken cancellationToken) => _store.FindActiveRunAsync(cancellationToken);

    public Task<RunRecord?> RequestCancelAsync(Guid runId, CancellationToken cancellationToken) => _store.RequestCancelAsync(runId, cancellationToken);

    public Task<int> FailAbandonedRunsAsync(string message, DateTimeOffset now, TimeSpan quietFor, CancellationToken cancellationToken) =>
        _store.FailAbandonedRunsAsync(message, now, quietFor, cancellationToken);

    public Task<IReadOnlyList<StoredReject>> ListRejectsAsync(Guid runId, int limit, long after, CancellationToken cancellationToken) =>
        _store.ListRejectsAsync(runId, limit, after, cancellationToken);

    public string MatchesIgnoringCase(string column, string parameter) => _store.MatchesIgnoringCase(column, parameter);

    public Task<DbConnection> OpenReadConnectionAsync(CancellationToken cancellationToken) => _store.OpenReadConnectionAsync(cancellationToken);

    public Task<DbTransaction> BeginConsistentReadAsync(DbConnection connection, CancellationToken cancellationToken) =>
        _store.BeginConsistentReadAsync(connection, cancellationToken);

    public Task<IReportSnapshot> OpenReportAsync(CancellationToken cancellationToken) => _store.OpenReportAsync(cancellationToken);
}
