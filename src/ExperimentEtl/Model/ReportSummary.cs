namespace ExperimentEtl.Model;

/// <summary>The data set's headline figures; null before any run has loaded data.</summary>
public sealed record ReportSummary(long Users, long Experiments, long Compounds, long ActiveUsers, Guid? RunId, DateTimeOffset LoadedAt);
