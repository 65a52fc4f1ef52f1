namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>Reads a file's lines as spans of bytes over one reused buffer: no string per line.</summary>
sealed class LineReader : IDisposable
{
    readonly FileStream _file;
    byte[] _buffer = new byte[1 << 20];
    int _start, _end;
    bool _eof;

    public LineReader(string path) =>
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0, FileOptions.SequentialScan);

    /// <summary>The next line without its '\n' (or "\r\n"); valid until the next call.</summary>
    public bool TryRead(out ReadOnlySpan<byte> line)
    {
        while (true)
        {
            var newline = _buffer.AsSpan(_start, _end - _start).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                line = TrimCr(_buffer.AsSpan(_start, newline));
                _start += newline + 1;
                return true;
            }
            if (_eof)
            {
                line = TrimCr(_buffer.AsSpan(_start, _end - _start));
                var any = _end > _start;
                _start = _end;
                return any;
            }
            Fill();
        }
    }

    void Fill()
    {
        if (_start > 0)
        {
            _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
            _end -= _start;
            _start = 0;
        }
        if (_end == _buffer.Length)
        {
            Array.Resize(ref _buffer, _buffer.Length * 2); // a line longer than the buffer
        }
        var read = _file.Read(_buffer, _end, _buffer.Length - _end);
        _eof = read == 0;
        _end += read;
    }

    static ReadOnlySpan<byte> TrimCr(ReadOnlySpan<byte> line) => line.Length > 0 && line[^1] == '\r' ? line[..^1] : line;

    public void Dispose() => _file.Dispose();
}
