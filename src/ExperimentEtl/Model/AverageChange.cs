namespace ExperimentEtl.Model;

/// <summary>The average number of experiments per user before and after a load; before is null for a first load.</summary>
public sealed record AverageChange(double? Before, double? After);
