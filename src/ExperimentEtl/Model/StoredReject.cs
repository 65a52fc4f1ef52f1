namespace ExperimentEtl.Model;

/// <summary>A rejected row as stored, numbered in file order for paging.</summary>
public sealed record StoredReject(long Seq, string File, long Line, string Raw, string Reason);
