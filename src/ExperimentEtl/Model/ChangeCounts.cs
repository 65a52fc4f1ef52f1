namespace ExperimentEtl.Model;

/// <summary>How the rows of one table compare with the previous data set's, matched by id.</summary>
public sealed record ChangeCounts(long Added, long Removed, long Changed, long Unchanged);
