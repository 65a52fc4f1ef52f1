namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>
/// Writes rows (each after a '\n', the generator's style) and reorders some: a row is held back with probability
/// <c>share</c>, and before each row written one held row comes out with the same probability, so held rows land
/// later in the file (the last ones, shuffled, at the end). Rows go out as often as they are held, so only a
/// few are held at a time (about 19 MB more peak memory at L with a share of 0.1).
/// </summary>
sealed class RowMixer(AsciiWriter writer, Rng rng, double share)
{
    readonly List<byte[]> _held = [];

    public long Rows { get; private set; }
    public long Moved { get; private set; }

    public void Write(ReadOnlySpan<byte> row)
    {
        Rows++;
        if (rng.NextDouble() < share)
        {
            _held.Add(row.ToArray());
            Moved++;
            return;
        }
        if (_held.Count > 0 && rng.NextDouble() < share)
        {
            Emit(TakeHeld(rng.Below(_held.Count)));
        }
        Emit(row);
    }

    /// <summary>Writes the rows still held, in random order.</summary>
    public void Finish()
    {
        while (_held.Count > 0)
        {
            Emit(TakeHeld(rng.Below(_held.Count)));
        }
    }

    byte[] TakeHeld(int index)
    {
        var row = _held[index];
        _held[index] = _held[^1];
        _held.RemoveAt(_held.Count - 1);
        return row;
    }

    void Emit(ReadOnlySpan<byte> row)
    {
        writer.Write((byte)'\n');
        writer.Write(row);
    }
}
