namespace ExperimentEtl.Model;

/// <summary>What a run did with one input file; while it runs, also its progress.</summary>
public sealed record FileStats(string File, long RowsRead, long RowsLoaded, long RowsRejected, long BytesRead, long BytesTotal);
