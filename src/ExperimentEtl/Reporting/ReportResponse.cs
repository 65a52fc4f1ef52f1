using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Reporting;

/// <summary>The seed's report shape, with extra figures after the seed's own fields.</summary>
/// <param name="AverageExperimentCount">Experiments ÷ all users in users.csv; null before any run.</param>
/// <param name="AverageExperimentCountActiveUsers">The seed's figure: experiments ÷ users with at least one experiment.</param>
public sealed record ReportResponse(
    double? AverageExperimentCount,
    IAsyncEnumerable<UserReport> UserReports,
    double? AverageExperimentCountActiveUsers,
    long UserCount,
    long ExperimentCount,
    long CompoundCount,
    Guid? RunId,
    DateTimeOffset? LoadedAt)
{
    /// <summary>The report of a snapshot; its users stream while the response is written.</summary>
    public static ReportResponse From(IReportSnapshot snapshot, CancellationToken cancellationToken)
    {
        var summary = snapshot.Summary;
        return new ReportResponse(
            summary is null ? null : Averages.PerUser(summary.Experiments, summary.Users),
            snapshot.ReadUsersAsync(cancellationToken),
            summary is null ? null : Averages.PerUser(summary.Experiments, summary.ActiveUsers),
            summary?.Users ?? 0,
            summary?.Experiments ?? 0,
            summary?.Compounds ?? 0,
            summary?.RunId,
            summary?.LoadedAt);
    }
}
