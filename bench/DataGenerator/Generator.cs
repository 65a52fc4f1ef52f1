using System.Diagnostics;
using System.Text;

namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>How much to generate, and from which seed.</summary>
/// <param name="Uniform">Users and compounds drawn uniformly: no lean per user, compounds over the whole range, so
/// nearly every (user, compound) pair is distinct (the shape that makes the feature state largest).</param>
sealed record GeneratorOptions(int Users, int Experiments, int Compounds, ulong Seed, bool Uniform = false);

/// <summary>What was written, with figures that show the skew.</summary>
sealed record GenerationResult(
    IReadOnlyList<(string File, long Rows, long Bytes)> Files,
    TimeSpan Elapsed,
    int InactiveUsers,
    double TopPercentShare,
    int MaxExperimentsPerUser,
    double CompoundsPerExperiment);

/// <summary>
/// Writes users.csv, compounds.csv and user_experiments.csv in the seed's dialect, byte for byte: fields separated by
/// a comma then a tab, a blank first line in users.csv only, a header line, and no newline after the last row.
/// </summary>
/// <remarks>
/// The skew is that of a real lab log:
/// <list type="bullet">
/// <item>about a tenth of the users (chosen by a hash of the id) run no experiment;</item>
/// <item>every other user runs at least one, and the rest are shared out Zipf-like (weight 1/rank over a shuffled
/// order of the active users), so a few users run most experiments;</item>
/// <item>each experiment lists 1–4 distinct compounds (30/35/20/15 %); 70 % of picks come from the user's three
/// favourites (weighted 5:3:2), the rest from a Zipf-like global popularity;</item>
/// <item>experiments are in random order of users (the assignment is shuffled), as in a log over time.</item>
/// </list>
/// With <see cref="GeneratorOptions.Uniform"/> every user (none left inactive on purpose) and every compound is equally
/// likely.
/// Every id is unique and every reference exists, so the service must accept the data as valid.
/// Everything is derived from the seed through <see cref="Rng"/>: the same options give the same bytes.
/// </remarks>
sealed class Generator(GeneratorOptions options)
{
    const int FavouriteCount = 3;

    static readonly string[] FirstNames =
    [
        "Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Karl", "Laura", "Mallory",
        "Nina", "Oscar", "Peggy", "Quentin", "Rupert", "Sybil", "Trent", "Ursula", "Victor", "Walter", "Xena", "Yusuf",
        "Zoe", "Amir", "Bea", "Chen", "Dara", "Emil", "Fatima", "Goran", "Hana", "Ines", "Jonas", "Kenji", "Lena",
        "Marta", "Noor", "Olga", "Pavel", "Rosa", "Sven", "Tariq", "Uma", "Vera", "Wei", "Yara", "Zeno",
    ];

    static readonly string[] LastNames =
    [
        "Smith", "Jones", "Brown", "Garcia", "Miller", "Davis", "Lopez", "Wilson", "Moore", "Taylor", "Thomas", "Martin",
        "Lee", "Walker", "Hall", "Young", "King", "Wright", "Scott", "Green", "Baker", "Adams", "Nelson", "Hill",
        "Campbell", "Mitchell", "Roberts", "Carter", "Phillips", "Evans", "Turner", "Torres", "Parker", "Collins",
        "Edwards", "Stewart", "Morris", "Murphy", "Cook", "Rogers", "Morgan", "Peterson", "Cooper", "Reed", "Bailey",
        "Bell", "Gomez", "Kelly", "Howard", "Ward", "Cox", "Diaz", "Richardson", "Wood", "Watson", "Brooks", "Bennett",
        "Gray", "James", "Reyes", "Cruz", "Hughes", "Price", "Myers",
    ];

    static readonly string[] CompoundPrefixes =
    [
        "Amino", "Benz", "Chloro", "Diethyl", "Ethyl", "Fluoro", "Glyco", "Hydroxy", "Iso", "Keto", "Methyl", "Nitro",
        "Oxy", "Phenyl", "Sulfo", "Tri", "Vinyl", "Bromo", "Cyclo", "Propyl",
    ];

    static readonly string[] CompoundSuffixes = ["amine", "ol", "ate", "ide", "ine", "one", "ase", "ene", "ium", "yl"];

    static readonly byte[] UsersHeader = "\nuser_id,\tname,\temail,\tsignup_date"u8.ToArray();
    static readonly byte[] CompoundsHeader = "compound_id,\tcompound_name,\tcompound_structure"u8.ToArray();
    static readonly byte[] ExperimentsHeader = "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time"u8.ToArray();
    static readonly byte[] EmailDomain = "@example.com"u8.ToArray();

    public GenerationResult Run(string directory)
    {
        if (options.Users < 1 || options.Compounds < 1 || options.Experiments < 1)
        {
            throw new ArgumentException("users, experiments and compounds must each be at least 1");
        }
        Directory.CreateDirectory(directory);
        var stopwatch = Stopwatch.StartNew();
        var files = new List<(string, long, long)>
        {
            Write(directory, "users.csv", options.Users, WriteUsers),
            Write(directory, "compounds.csv", options.Compounds, WriteCompounds),
        };
        var perUser = new int[options.Users + 1];
        long compoundTotal = 0;
        files.Add(Write(directory, "user_experiments.csv", options.Experiments, w => compoundTotal = WriteExperiments(w, perUser)));
        stopwatch.Stop();

        var counts = perUser.AsSpan(1).ToArray();
        var inactive = counts.Count(0);
        Array.Sort(counts);
        var top = Math.Max(1, counts.Length / 100);
        long topSum = 0;
        for (var i = counts.Length - top; i < counts.Length; i++)
        {
            topSum += counts[i];
        }
        return new GenerationResult(files, stopwatch.Elapsed, inactive, (double)topSum / options.Experiments, counts[^1],
            (double)compoundTotal / options.Experiments);
    }

    /// <summary>Writes under a temporary name and renames at the end, so a half-written file is never taken for data.</summary>
    static (string, long, long) Write(string directory, string name, long rows, Action<AsciiWriter> body)
    {
        var temporary = Path.Combine(directory, "." + name + ".tmp");
        long bytes;
        using (var writer = new AsciiWriter(temporary))
        {
            body(writer);
            bytes = writer.BytesWritten;
        }
        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
        return (name, rows, bytes);
    }

    void WriteUsers(AsciiWriter w)
    {
        var first = FirstNames.Select(n => Encoding.ASCII.GetBytes(n)).ToArray();
        var firstLower = FirstNames.Select(n => Encoding.ASCII.GetBytes(n.ToLowerInvariant())).ToArray();
        var last = LastNames.Select(n => Encoding.ASCII.GetBytes(n)).ToArray();
        var lastLower = LastNames.Select(n => Encoding.ASCII.GetBytes(n.ToLowerInvariant())).ToArray();
        // Sign-up dates from 2015-01-01 over ten years, formatted once.
        var start = new DateOnly(2015, 1, 1);
        var dates = Enumerable.Range(0, 3653)
            .Select(d => Encoding.ASCII.GetBytes(start.AddDays(d).ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture)))
            .ToArray();

        w.Write(UsersHeader);
        for (var id = 1; id <= options.Users; id++)
        {
            var h = Rng.Hash(options.Seed, 1, (ulong)id);
            var f = (int)(h % (ulong)first.Length);
            var l = (int)((h >> 16) % (ulong)last.Length);
            w.Write((byte)'\n');
            w.Write(id);
            w.Separator();
            w.Write(first[f]);
            w.Write((byte)' ');
            w.Write(last[l]);
            w.Separator();
            w.Write(firstLower[f]);
            w.Write((byte)'.');
            w.Write(lastLower[l]);
            w.Write(id);
            w.Write(EmailDomain);
            w.Separator();
            w.Write(dates[(int)((h >> 32) % (ulong)dates.Length)]);
        }
    }

    void WriteCompounds(AsciiWriter w)
    {
        var prefixes = CompoundPrefixes.Select(n => Encoding.ASCII.GetBytes(n)).ToArray();
        var suffixes = CompoundSuffixes.Select(n => Encoding.ASCII.GetBytes(n)).ToArray();
        w.Write(CompoundsHeader);
        for (var id = 1; id <= options.Compounds; id++)
        {
            var h = Rng.Hash(options.Seed, 2, (ulong)id);
            w.Write((byte)'\n');
            w.Write(id);
            w.Separator();
            w.Write(prefixes[(int)(h % (ulong)prefixes.Length)]);
            w.Write(suffixes[(int)((h >> 8) % (ulong)suffixes.Length)]);
            w.Write((byte)'-');
            w.Write(id);
            w.Separator();
            // A molecular formula: C and H always, N and O sometimes; a count of 1 is not written.
            WriteElement(w, (byte)'C', 2 + (int)((h >> 16) % 40));
            WriteElement(w, (byte)'H', 2 + (int)((h >> 24) % 60));
            WriteElement(w, (byte)'N', (int)((h >> 32) % 5));
            WriteElement(w, (byte)'O', (int)((h >> 40) % 7));
        }
    }

    static void WriteElement(AsciiWriter w, byte symbol, int count)
    {
        if (count == 0)
        {
            return;
        }
        w.Write(symbol);
        if (count > 1)
        {
            w.Write(count);
        }
    }

    /// <returns>The number of compound ids written in all.</returns>
    long WriteExperiments(AsciiWriter w, int[] perUser)
    {
        var users = options.Users;
        var compounds = options.Compounds;

        // Who runs the experiments: every active user once, the rest Zipf-like over a shuffled ranking, then shuffled.
        var active = new List<int>(users);
        for (var id = 1; id <= users; id++)
        {
            if (Rng.Hash(options.Seed, 3, (ulong)id) % 10 != 0)
            {
                active.Add(id);
            }
        }
        if (active.Count == 0)
        {
            active.Add(1);
        }
        var ranking = active.ToArray();
        var rng = new Rng(options.Seed, 10);
        Shuffle(ranking, rng);
        var owners = new int[options.Experiments];
        var baseline = Math.Min(owners.Length, ranking.Length);
        ranking.AsSpan(0, baseline).CopyTo(owners);
        var userZipf = new ZipfTable(ranking.Length);
        for (var i = baseline; i < owners.Length; i++)
        {
            owners[i] = options.Uniform ? 1 + rng.Below(users) : ranking[userZipf.Draw(rng)];
        }
        Shuffle(owners, rng);

        // Compound popularity: Zipf-like over a shuffled order; each user's favourites are drawn from it.
        var popularity = Enumerable.Range(1, compounds).ToArray();
        Shuffle(popularity, new Rng(options.Seed, 11));
        var compoundZipf = new ZipfTable(compounds);
        var favouriteRng = new Rng(options.Seed, 12);
        var favourites = new int[(users + 1) * FavouriteCount];
        for (var i = FavouriteCount; i < favourites.Length; i++)
        {
            favourites[i] = popularity[compoundZipf.Draw(favouriteRng)];
        }

        rng = new Rng(options.Seed, 13);
        Span<int> picked = stackalloc int[4];
        long compoundTotal = 0;
        w.Write(ExperimentsHeader);
        for (var i = 0; i < owners.Length; i++)
        {
            var user = owners[i];
            perUser[user]++;
            var share = rng.Below(100);
            var wanted = Math.Min(compounds, share < 30 ? 1 : share < 65 ? 2 : share < 85 ? 3 : 4);
            var count = 0;
            while (count < wanted)
            {
                var candidate = 0;
                for (var attempt = 0; attempt < 16; attempt++)
                {
                    var choice = rng.Below(100);
                    var c = options.Uniform ? 1 + rng.Below(compounds)
                        : choice < 70
                        ? favourites[user * FavouriteCount + (choice < 35 ? 0 : choice < 56 ? 1 : 2)]
                        : popularity[compoundZipf.Draw(rng)];
                    if (!picked[..count].Contains(c))
                    {
                        candidate = c;
                        break;
                    }
                }
                if (candidate == 0)
                {
                    // Tiny compound lists: take the lowest id not picked yet (there is one, since wanted <= compounds).
                    candidate = 1;
                    while (picked[..count].Contains(candidate))
                    {
                        candidate++;
                    }
                }
                picked[count++] = candidate;
            }
            compoundTotal += count;

            w.Write((byte)'\n');
            w.Write(i + 1);
            w.Separator();
            w.Write(user);
            w.Separator();
            for (var j = 0; j < count; j++)
            {
                if (j > 0)
                {
                    w.Write((byte)';');
                }
                w.Write(picked[j]);
            }
            w.Separator();
            // Run time in minutes: mostly 5–60, one in 32 a long run of up to 60 hours.
            var r = rng.Next();
            w.Write(((r >> 32) & 31) == 0 ? 60 + (int)((r >> 40) % 3540) : 5 + (int)(r % 56));
        }
        return compoundTotal;
    }

    static void Shuffle(int[] values, Rng rng)
    {
        for (var i = values.Length - 1; i > 0; i--)
        {
            var j = rng.Below(i + 1);
            (values[i], values[j]) = (values[j], values[i]);
        }
    }
}
