using System.Globalization;

namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>One row being built as bytes, reused from row to row.</summary>
sealed class RowBuffer
{
    byte[] _bytes = new byte[256];
    int _length;

    public ReadOnlySpan<byte> Span => _bytes.AsSpan(0, _length);

    public RowBuffer Clear()
    {
        _length = 0;
        return this;
    }

    public RowBuffer Bytes(ReadOnlySpan<byte> bytes)
    {
        Reserve(bytes.Length);
        bytes.CopyTo(_bytes.AsSpan(_length));
        _length += bytes.Length;
        return this;
    }

    public RowBuffer Number(int value)
    {
        Reserve(11);
        value.TryFormat(_bytes.AsSpan(_length), out var written, default, CultureInfo.InvariantCulture);
        _length += written;
        return this;
    }

    /// <summary>The seed's field separator: a comma then a tab.</summary>
    public RowBuffer Separator() => Bytes(",\t"u8);

    void Reserve(int count)
    {
        if (_length + count > _bytes.Length)
        {
            Array.Resize(ref _bytes, Math.Max(_bytes.Length * 2, _length + count));
        }
    }
}
