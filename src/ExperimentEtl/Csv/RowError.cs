namespace ExperimentEtl.Csv;

/// <summary>One problem found in an input file, pointing at the exact place a person must fix.</summary>
/// <param name="File">The file name as the user knows it, e.g. <c>users.csv</c>.</param>
/// <param name="Line">The physical line in the file, 1-based; 0 when the problem is the file as a whole.</param>
/// <param name="Column">The column name, when the problem is one field.</param>
/// <param name="Value">The offending text as it stood in the file (shortened when long).</param>
/// <param name="Message">What is wrong, in words a person can act on.</param>
public sealed record RowError(string File, long Line, string? Column, string? Value, string Message);

/// <summary>
/// Collects errors across all files of a run: keeps the first <see cref="MaxKept"/> for the answer
/// and counts the rest, so a file with a million bad rows costs no memory.
/// </summary>
public sealed class ErrorCollector
{
    public const int MaxKept = 100;
    const int MaxValueLength = 200;

    readonly List<RowError> _kept = [];

    public long Count { get; private set; }

    public bool HasErrors => Count > 0;

    public IReadOnlyList<RowError> Kept => _kept;

    public void Add(string file, long line, string? column, ReadOnlySpan<char> value, string message)
    {
        Count++;
        if (_kept.Count < MaxKept)
        {
            var text = value.Length > MaxValueLength ? string.Concat(value[..MaxValueLength], "…") : value.ToString();
            _kept.Add(new RowError(file, line, column, text, message));
        }
    }

    public void Add(string file, long line, string message) => Add(file, line, null, default, message);
}
