using ExperimentEtl.Model;

namespace ExperimentEtl.Storage;

/// <summary>A read transaction over the report; users stream from the same snapshot as the summary.</summary>
public interface IReportSnapshot : IAsyncDisposable
{
    ReportSummary? Summary { get; }

    IAsyncEnumerable<UserReport> ReadUsersAsync(CancellationToken cancellationToken);
}
