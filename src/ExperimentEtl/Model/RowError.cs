namespace ExperimentEtl.Model;

/// <summary>One problem found in an input file, pointing at the exact place a person must fix.</summary>
/// <param name="File">The file name as the user knows it, e.g. <c>users.csv</c>.</param>
/// <param name="Line">The physical line in the file, 1-based; 0 when the problem is the file as a whole.</param>
/// <param name="Column">The column name, when the problem is one field.</param>
/// <param name="Value">The offending text as it stood in the file (shortened when long).</param>
/// <param name="Message">What is wrong, in words a person can act on.</param>
public sealed record RowError(string File, long Line, string? Column, string? Value, string Message);
