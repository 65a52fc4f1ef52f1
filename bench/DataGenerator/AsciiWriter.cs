using System.Globalization;

namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>Writes ASCII/UTF-8 bytes straight into a large buffer: no strings, no per-row formatting calls.</summary>
sealed class AsciiWriter : IDisposable
{
    const int BufferSize = 1 << 20;

    readonly FileStream _file;
    readonly byte[] _buffer = new byte[BufferSize];
    int _length;

    public AsciiWriter(string path) =>
        _file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, bufferSize: 0, FileOptions.SequentialScan);

    public long BytesWritten { get; private set; }

    /// <summary>Makes room for at least <paramref name="count"/> bytes (count must stay below the buffer size).</summary>
    void Reserve(int count)
    {
        if (_length + count > BufferSize)
        {
            Flush();
        }
    }

    public void Write(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length > BufferSize / 2)
        {
            Flush();
            _file.Write(bytes);
            BytesWritten += bytes.Length;
            return;
        }
        Reserve(bytes.Length);
        bytes.CopyTo(_buffer.AsSpan(_length));
        _length += bytes.Length;
        BytesWritten += bytes.Length;
    }

    public void Write(byte value)
    {
        Reserve(1);
        _buffer[_length++] = value;
        BytesWritten++;
    }

    public void Write(int value)
    {
        Reserve(11);
        value.TryFormat(_buffer.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        BytesWritten += written;
    }

    /// <summary>The seed's field separator: a comma then a tab.</summary>
    public void Separator()
    {
        Reserve(2);
        _buffer[_length++] = (byte)',';
        _buffer[_length++] = (byte)'\t';
        BytesWritten += 2;
    }

    public void Flush()
    {
        _file.Write(_buffer, 0, _length);
        _length = 0;
    }

    public void Dispose()
    {
        Flush();
        _file.Dispose();
    }
}
