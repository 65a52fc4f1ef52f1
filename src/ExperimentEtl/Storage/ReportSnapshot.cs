using System.Data.Common;
using System.Runtime.CompilerServices;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>
/// The report's summary and users from one snapshot of the data set, even while a run commits: either one statement
/// whose every row carries the summary columns (the first row supplies them), or a summary read first and the users
/// read after it in the same repeatable-read transaction.
/// </summary>
sealed class ReportSnapshot : IReportSnapshot
{
    readonly DbConnection _connection;
    readonly DbTransaction? _transaction;
    readonly DbDataReader? _reader;
    readonly Func<DbDataReader, UserReport> _readUser;
    bool _rowPending;

    ReportSnapshot(DbConnection connection, DbTransaction? transaction, DbDataReader? reader, Func<DbDataReader, UserReport> readUser)
    {
        _connection = connection;
        _transaction = transaction;
        _reader = reader;
        _readUser = readUser;
    }

    public ReportSummary? Summary { get; private set; }

    /// <summary>A snapshot from one statement whose rows all carry the summary.</summary>
    public static async Task<IReportSnapshot> FromFirstRowAsync(
        DbConnection connection,
        DbDataReader reader,
        Func<DbDataReader, ReportSummary> readSummary,
        Func<DbDataReader, UserReport> readUser,
        CancellationToken cancellationToken)
    {
        var snapshot = new ReportSnapshot(connection, null, reader, readUser);
        snapshot._rowPending = await reader.ReadAsync(cancellationToken);
        snapshot.Summary = snapshot._rowPending ? readSummary(reader) : null;
        return snapshot;
    }

    /// <summary>A snapshot whose summary was read before the users, in <paramref name="transaction"/>.</summary>
    /// <param name="users">The users' rows; null when there is no data set (no summary).</param>
    public static IReportSnapshot FromTransaction(
        DbConnection connection, DbTransaction transaction, ReportSummary? summary, DbDataReader? users, Func<DbDataReader, UserReport> readUser) =>
        new ReportSnapshot(connection, transaction, users, readUser) { Summary = summary };

    public async IAsyncEnumerable<UserReport> ReadUsersAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (_reader is null)
        {
            yield break;
        }
        if (!_rowPending)
        {
            _rowPending = await _reader.ReadAsync(cancellationToken);
        }
        while (_rowPending)
        {
            yield return _readUser(_reader);
            _rowPending = await _reader.ReadAsync(cancellationToken);
        }
    }

    public async ValueTask DisposeAsync()
    {
        // Disposing the reader of a report cut short (the client went away) can throw: the connection must still go back.
        try
        {
            if (_reader is not null)
            {
                await _reader.DisposeAsync();
            }
        }
        finally
        {
            try
            {
                if (_transaction is not null)
                {
                    await _transaction.DisposeAsync();
                }
            }
            finally
            {
                await _connection.DisposeAsync();
            }
        }
    }
}
