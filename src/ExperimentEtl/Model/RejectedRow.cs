namespace ExperimentEtl.Model;

/// <summary>A row a lenient run skipped: the line as it stood in the file, and why.</summary>
public sealed record RejectedRow(string File, long Line, string Raw, string Reason);
