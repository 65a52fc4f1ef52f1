namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>
/// xoshiro256** seeded through SplitMix64: a small, fast PRNG whose output depends only on the seed,
/// never on the .NET version or the machine (unlike <see cref="Random"/>, whose algorithm is not a contract).
/// </summary>
sealed class Rng
{
    ulong _s0, _s1, _s2, _s3;

    public Rng(ulong seed, ulong stream)
    {
        var x = seed ^ (stream * 0xD1B54A32D192ED03UL);
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    public ulong Next()
    {
        var result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        var t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    /// <summary>A uniform integer in [0, n) (Lemire's multiply-shift; the bias is below 2^-32 for the n used here).</summary>
    public int Below(int n) => (int)((Next() >> 32) * (ulong)n >> 32);

    /// <summary>A uniform double in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    static ulong SplitMix(ref ulong x)
    {
        x += 0x9E3779B97F4A7C15UL;
        return Mix(x);
    }

    /// <summary>SplitMix64's finaliser: a stateless hash, used for attributes derived from an id (a user's favourite compounds).</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    public static ulong Hash(ulong seed, ulong stream, ulong value) =>
        Mix(seed ^ Mix((stream << 56) ^ value ^ 0x2545F4914F6CDD1DUL));
}

/// <summary>
/// Zipf-like draws over ranks 1..n with weight 1/rank (s = 1: only divisions, so the table is the same on every machine).
/// </summary>
sealed class ZipfTable
{
    readonly double[] _cumulative;

    public ZipfTable(int n)
    {
        _cumulative = new double[n];
        var sum = 0.0;
        for (var i = 0; i < n; i++)
        {
            sum += 1.0 / (i + 1);
            _cumulative[i] = sum;
        }
    }

    /// <summary>A 0-based rank: 0 is the most likely.</summary>
    public int Draw(Rng rng)
    {
        var target = rng.NextDouble() * _cumulative[^1];
        int low = 0, high = _cumulative.Length - 1;
        while (low < high)
        {
            var middle = (low + high) >>> 1;
            if (_cumulative[middle] > target)
            {
                high = middle;
            }
            else
            {
                low = middle + 1;
            }
        }
        return low;
    }
}
