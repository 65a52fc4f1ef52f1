using System.Text;
using nietras.SeparatedValues;

namespace ExperimentEtl.Csv;

/// <summary>
/// Streams one CSV file as records laid out in a <see cref="CsvSchema"/>'s column order.
/// </summary>
/// <remarks>
/// Reads both the seed's dialect (comma then tab, a leading blank line, no final newline) and RFC 4180
/// (quoted fields with commas, quotes and line breaks, CRLF, a byte order mark). Sep does the splitting;
/// trimming of spaces and tabs and unescaping are done here because Sep trims spaces only.
/// Structural problems (field counts, quotes, encoding, header) become <see cref="Model.RowError"/>s and the row is skipped,
/// so the caller only ever sees well-formed records.
/// </remarks>
public sealed class CsvRecordReader : IDisposable
{
    const int MaxRowErrorsShown = 200;
    const char ReplacementCharacter = '\uFFFD';

    // Invalid bytes decode to U+FFFD, which the row check below turns into an error on the exact line
    // (a throwing decoder would only say which read buffer held the bad byte).
    static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);

    readonly Stream _stream;
    readonly SepReader _sep;
    readonly CsvSchema _schema;
    readonly ErrorCollector _errors;
    readonly int[] _sourceColumn;
    readonly char[][] _unescaped;
    readonly int[] _unescapedLength;
    int _expectedFieldCount;
    bool _headerResolved;
    bool _finished;
    readonly long _errorsAtStart;
    long _nextLine = 1;

    readonly CancellationToken _cancellation;

    /// <param name="cancellation">Checked every few thousand records, valid or not.</param>
    /// <exception cref="NotSupportedException">The first row is longer than Sep's limit (16 Mi characters).</exception>
    public CsvRecordReader(Stream stream, CsvSchema schema, ErrorCollector errors, CancellationToken cancellation = default)
    {
        _cancellation = cancellation;
        _stream = stream;
        _schema = schema;
        _errors = errors;
        var columnCount = schema.Columns.Count;
        _sourceColumn = new int[columnCount];
        _unescaped = new char[columnCount][];
        _unescapedLength = new int[columnCount];
        for (var i = 0; i < columnCount; i++)
        {
            _sourceColumn[i] = i;
            _unescaped[i] = [];
            _unescapedLength[i] = -1;
        }
        _expectedFieldCount = columnCount;
        _errorsAtStart = errors.Count;
        var text = new StreamReader(stream, Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
        _sep = Sep.New(',').Reader(o => o with { HasHeader = false, DisableColCountCheck = true }).From(text);
    }

    public CsvSchema Schema => _schema;

    /// <summary>Physical line (1-based) where the current record starts.</summary>
    public long Line { get; private set; }

    /// <summary>Data records returned so far (well-formed or not).</summary>
    public long RecordsRead { get; private set; }

    /// <summary>Bytes consumed from the underlying stream: a progress figure, ahead of <see cref="Line"/> by the read buffer.</summary>
    public long BytesRead => _stream.CanSeek ? _stream.Position : 0;

    /// <summary>The file's size in bytes, when known.</summary>
    public long BytesTotal => _stream.CanSeek ? _stream.Length : 0;

    /// <summary>The current record's field for schema column <paramref name="column"/>: trimmed and unescaped.</summary>
    public ReadOnlySpan<char> this[int column] =>
        _unescapedLength[column] >= 0
            ? _unescaped[column].AsSpan(0, _unescapedLength[column])
            : Trim(_sep.Current[_sourceColumn[column]].Span);

    /// <summary>Records an error on the current record's field.</summary>
    public void FieldError(int column, string message) =>
        _errors.AddRowError(_schema.FileName, Line, _schema.Columns[column], this[column], message, _sep.Current.Span);

    /// <summary>Moves to the next well-formed data record; structural problems are recorded and skipped.</summary>
    public bool MoveNext()
    {
        while (!_finished)
        {
            if (!TryMoveNextRow())
            {
                _finished = true;
                if (RecordsRead == 0 && _errors.Count == _errorsAtStart)
                {
                    _errors.Add(_schema.FileName, 0, _headerResolved ? "the file has a header but no data rows" : "the file is empty");
                }
                return false;
            }
            var row = _sep.Current;
            // Rows are contiguous, so a row starts where the previous one ended. (Sep numbers the first row 2 when there is no header.)
            Line = _nextLine;
            _nextLine = row.LineNumberToExcl;
            if (IsBlank(row))
            {
                continue;
            }
            // PostgreSQL text cannot hold NUL; both it and undecodable bytes make the line unusable.
            if (row.Span.IndexOfAny(ReplacementCharacter, '\0') >= 0)
            {
                RecordsRead += _headerResolved ? 1 : 0;
                _headerResolved = true;
                _errors.AddRowError(_schema.FileName, Line, null, Shown(row.Span),
                    "the line is not valid UTF-8 text or holds a NUL character (invalid bytes are shown as \uFFFD): save the file as UTF-8 text", row.Span);
                continue;
            }
            if (!_headerResolved)
            {
                _headerResolved = true;
                if (LooksLikeHeader(row))
                {
                    if (!ResolveHeader(row))
                    {
                        _finished = true;
                        return false;
                    }
                    continue;
                }
            }
            RecordsRead++;
            if ((RecordsRead & 4095) == 0)
            {
                _cancellation.ThrowIfCancellationRequested();
            }
            if (row.ColCount != _expectedFieldCount)
            {
                _errors.AddRowError(_schema.FileName, Line, null, Shown(row.Span),
                    $"expected {_expectedFieldCount} fields, found {row.ColCount}", row.Span);
                continue;
            }
            if (UnescapeFields(row))
            {
                return true;
            }
        }
        return false;
    }

    bool TryMoveNextRow()
    {
        try
        {
            return _sep.MoveNext();
        }
        catch (NotSupportedException e) when (IsRowTooLong(e))
        {
            // Sep caps a row at 16 Mi characters: in practice an opening quote that is never closed.
            _errors.Add(_schema.FileName, _nextLine, "a row is longer than 16 million characters: most likely a quote is never closed");
        }
        return false;
    }

    /// <summary>Sep's answer to a row over 16 Mi characters: in practice an opening quote that is never closed.</summary>
    public static bool IsRowTooLong(NotSupportedException e) => e.Message.Contains("maximum supported length", StringComparison.Ordinal);

    static ReadOnlySpan<char> Shown(ReadOnlySpan<char> row) => row.Length > MaxRowErrorsShown ? row[..MaxRowErrorsShown] : row;

    static bool IsBlank(SepReader.Row row) => row.ColCount == 1 && Trim(row.Span).IsEmpty;

    bool LooksLikeHeader(SepReader.Row row)
    {
        for (var i = 0; i < row.ColCount; i++)
        {
            if (_schema.IndexOf(Unquote(Trim(row[i].Span))) >= 0)
            {
                return true;
            }
        }
        return false;
    }

    bool ResolveHeader(SepReader.Row row)
    {
        Array.Fill(_sourceColumn, -1);
        var ok = true;
        for (var i = 0; i < row.ColCount; i++)
        {
            var name = Unquote(Trim(row[i].Span));
            var column = _schema.IndexOf(name);
            if (column < 0)
            {
                continue; // Extra columns are allowed and ignored.
            }
            if (_sourceColumn[column] >= 0)
            {
                _errors.Add(_schema.FileName, Line, _schema.Columns[column], name, $"the column '{_schema.Columns[column]}' appears twice in the header");
                ok = false;
            }
            _sourceColumn[column] = i;
        }
        for (var column = 0; column < _sourceColumn.Length; column++)
        {
            if (_sourceColumn[column] < 0)
            {
                _errors.Add(_schema.FileName, Line, _schema.Columns[column], null,
                    $"the header has no column '{_schema.Columns[column]}' (expected: {string.Join(", ", _schema.Columns)})");
                ok = false;
            }
        }
        _expectedFieldCount = row.ColCount;
        return ok;
    }

    bool UnescapeFields(SepReader.Row row)
    {
        var ok = true;
        for (var column = 0; column < _sourceColumn.Length; column++)
        {
            _unescapedLength[column] = -1;
            var field = Trim(row[_sourceColumn[column]].Span);
            if (field.IsEmpty || field[0] != '"')
            {
                continue;
            }
            if (field.Length < 2 || field[^1] != '"')
            {
                _errors.AddRowError(_schema.FileName, Line, _schema.Columns[column], field, "a quoted field is not closed by a matching quote", row.Span);
                ok = false;
                continue;
            }
            // Spaces inside the quotes are trimmed too: a value is trimmed the same way however it was written.
            var inner = Trim(field[1..^1]);
            if (!TryUnescape(inner, ref _unescaped[column], out var length))
            {
                _errors.AddRowError(_schema.FileName, Line, _schema.Columns[column], field, "a quote inside a quoted field must be doubled (\"\")", row.Span);
                ok = false;
                continue;
            }
            _unescapedLength[column] = length;
        }
        return ok;
    }

    static bool TryUnescape(ReadOnlySpan<char> inner, ref char[] buffer, out int length)
    {
        if (buffer.Length < inner.Length)
        {
            buffer = new char[Math.Max(inner.Length, 64)];
        }
        length = 0;
        for (var i = 0; i < inner.Length; i++)
        {
            var c = inner[i];
            if (c == '"')
            {
                if (i + 1 >= inner.Length || inner[i + 1] != '"')
                {
                    return false;
                }
                i++;
            }
            buffer[length++] = c;
        }
        return true;
    }

    static ReadOnlySpan<char> Unquote(ReadOnlySpan<char> field) =>
        field.Length >= 2 && field[0] == '"' && field[^1] == '"' ? Trim(field[1..^1]) : field;

    internal static ReadOnlySpan<char> Trim(ReadOnlySpan<char> span) => span.Trim(" \t");

    public void Dispose()
    {
        _sep.Dispose();
        _stream.Dispose();
    }
}
