using ExperimentEtl.Model;

namespace ExperimentEtl.Csv;

/// <summary>
/// Collects the problems of a run across all files. Keeps the first <see cref="MaxKept"/> errors and counts the rest,
/// so a file with a million bad rows costs no memory. In lenient mode a row's problems reject that row instead.
/// </summary>
public sealed class ErrorCollector(RunMode mode = RunMode.Strict)
{
    public const int MaxKept = 100;

    /// <summary>Rejected rows kept for <c>/rejects</c>; beyond this they are only counted.</summary>
    public const int MaxRejectsKept = 100_000;

    const int MaxValueLength = 200;
    const int MaxRawLength = 4000;

    readonly List<RowError> _kept = [];
    readonly List<RejectedRow> _rejects = [];
    readonly Dictionary<string, long> _rejectedPerFile = [];
    (string File, long Line) _lastRejected;
    bool _lastRejectedKept;

    public RunMode Mode { get; } = mode;

    /// <summary>Errors that fail the run (every error in strict mode; whole-file problems in lenient mode).</summary>
    public long Count { get; private set; }

    public bool HasErrors => Count > 0;

    public IReadOnlyList<RowError> Kept => _kept;

    public long RejectedCount { get; private set; }

    public IReadOnlyList<RejectedRow> Rejects => _rejects;

    public long RejectedIn(string file) => _rejectedPerFile.GetValueOrDefault(file);

    /// <summary>A problem with a file as a whole (missing, empty, unusable header): always fails the run.</summary>
    public void Add(string file, long line, string? column, ReadOnlySpan<char> value, string message)
    {
        Count++;
        if (_kept.Count < MaxKept)
        {
            _kept.Add(new RowError(file, line, column, Shorten(value), message));
        }
    }

    public void Add(string file, long line, string message) => Add(file, line, null, default, message);

    /// <summary>A problem with one row: an error in strict mode, a rejected row in lenient mode.</summary>
    /// <param name="raw">The row as it stood in the file, kept with a rejected row.</param>
    public void AddRowError(string file, long line, string? column, ReadOnlySpan<char> value, string message, ReadOnlySpan<char> raw)
    {
        if (Mode == RunMode.Strict)
        {
            Add(file, line, column, value, message);
            return;
        }
        var reason = column is null ? message : $"{column}: {message}";
        if (_lastRejected == (file, line))
        {
            // Another problem of the same row: one rejected row, with every reason.
            if (_lastRejectedKept)
            {
                _rejects[^1] = _rejects[^1] with { Reason = $"{_rejects[^1].Reason}; {reason}" };
            }
            return;
        }
        _lastRejected = (file, line);
        RejectedCount++;
        _rejectedPerFile[file] = _rejectedPerFile.GetValueOrDefault(file) + 1;
        _lastRejectedKept = _rejects.Count < MaxRejectsKept;
        if (_lastRejectedKept)
        {
            _rejects.Add(new RejectedRow(file, line, raw.Length > MaxRawLength ? string.Concat(raw[..MaxRawLength], "…") : raw.ToString(), reason));
        }
    }

    static string? Shorten(ReadOnlySpan<char> value) =>
        value.Length > MaxValueLength ? string.Concat(value[..MaxValueLength], "…") : value.ToString();
}
