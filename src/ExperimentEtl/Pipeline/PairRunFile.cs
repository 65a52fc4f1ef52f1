namespace ExperimentEtl.Pipeline;

/// <summary>
/// Writes a sorted run: for each pair the difference from the previous key, then the count, both as LEB128
/// variable-length numbers (3–4 bytes a pair instead of 12).
/// </summary>
sealed class PairRunWriter : IDisposable
{
    readonly FileStream _file;
    readonly byte[] _buffer = new byte[1 << 16];
    int _used;
    ulong _previous;

    public PairRunWriter(string path) =>
        _file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, bufferSize: 0);

    public void Write(ulong key, int count)
    {
        if (_used > _buffer.Length - 20)
        {
            Flush();
        }
        WriteVarint(key - _previous);
        WriteVarint((uint)count);
        _previous = key;
    }

    void WriteVarint(ulong value)
    {
        var buffer = _buffer;
        while (value >= 0x80)
        {
            buffer[_used++] = (byte)(value | 0x80);
            value >>= 7;
        }
        buffer[_used++] = (byte)value;
    }

    void Flush()
    {
        _file.Write(_buffer, 0, _used);
        _used = 0;
    }

    public void Dispose()
    {
        try
        {
            Flush();
        }
        finally
        {
            _file.Dispose();
        }
    }
}

/// <summary>Reads back a run of <see cref="PairRunWriter"/>.</summary>
sealed class PairRunReader : IDisposable
{
    readonly FileStream _file;
    readonly byte[] _buffer = new byte[1 << 16];
    int _next;
    int _length;

    public PairRunReader(string path) =>
        _file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 0);

    public ulong Key { get; private set; }

    public int Count { get; private set; }

    public bool TryRead()
    {
        if (_next == _length && !Fill())
        {
            return false;
        }
        Key += ReadVarint();
        Count = (int)ReadVarint();
        return true;
    }

    bool Fill()
    {
        _length = _file.Read(_buffer, 0, _buffer.Length);
        _next = 0;
        return _length > 0;
    }

    ulong ReadVarint()
    {
        ulong value = 0;
        for (var shift = 0; ; shift += 7)
        {
            if (_next == _length && !Fill())
            {
                throw new InvalidDataException("A spilled run of pairs ends in the middle of a number.");
            }
            var b = _buffer[_next++];
            value |= (ulong)(b & 0x7F) << shift;
            if (b < 0x80)
            {
                return value;
            }
        }
    }

    public void Dispose() => _file.Dispose();
}
