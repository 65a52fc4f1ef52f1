using System.Data.Common;
using System.Runtime.CompilerServices;

namespace ExperimentEtl.Storage;

/// <summary>
/// The report read as one statement, so summary and users come from the same data set even while a run commits:
/// every row carries the summary columns, and the first row supplies them.
/// </summary>
sealed class ReportSnapshot : IReportSnapshot
{
    readonly DbConnection _connection;
    readonly DbDataReader _reader;
    readonly Func<DbDataReader, UserReport> _readUser;
    bool _hasCurrentRow;

    ReportSnapshot(DbConnection connection, DbDataReader reader, Func<DbDataReader, UserReport> readUser)
    {
        _connection = connection;
        _reader = reader;
        _readUser = readUser;
    }

    public ReportSummary? Summary { get; private set; }

    public static async Task<IReportSnapshot> StartAsync(
        DbConnection connection,
        DbDataReader reader,
        Func<DbDataReader, ReportSummary> readSummary,
        Func<DbDataReader, UserReport> readUser,
        CancellationToken cancellationToken)
    {
        var snapshot = new ReportSnapshot(connection, reader, readUser);
        snapshot._hasCurrentRow = await reader.ReadAsync(cancellationToken);
        snapshot.Summary = snapshot._hasCurrentRow ? readSummary(reader) : null;
        return snapshot;
    }

    public async IAsyncEnumerable<UserReport> ReadUsersAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (_hasCurrentRow)
        {
            yield return _readUser(_reader);
            _hasCurrentRow = await _reader.ReadAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _reader.DisposeAsync();
        await _connection.DisposeAsync();
    }
}
