// Writes the benchmark's input files (users.csv, compounds.csv, user_experiments.csv) in the seed's dialect.
//   dotnet run --project bench/DataGenerator -c Release -- --size S|M|L|XL --out DIR [--seed N] [--shape skewed|uniform]
//   dotnet run --project bench/DataGenerator -c Release -- --users N --experiments N --compounds N --out DIR [--seed N]
//   dotnet run --project bench/DataGenerator -c Release -- --edit-from DIR --edit FRACTION --out DIR [--seed N]
using System.Globalization;
using ExperimentEtl.Bench.DataGenerator;

const string Usage = """
    usage: DataGenerator --size S|M|L|XL --out DIR [--seed N] [--shape skewed|uniform]
           DataGenerator --users N --experiments N --compounds N --out DIR [--seed N] [--shape skewed|uniform]
           DataGenerator --edit-from DIR --edit FRACTION --out DIR [--seed N]
      S = 1k users / 10k experiments / 100 compounds; M = 100k / 1M / 1k; L = 1M / 10M / 10k; XL = 3M / 30M / 30k.
      --users/--experiments/--compounds override the size's figures. The default seed is 42.
      --shape skewed (the default): a few users run most experiments, each leaning to a few compounds.
      --shape uniform: users and compounds equally likely, so nearly every (user, compound) pair is distinct.
      --edit-from DIR --edit FRACTION: an edited copy of the data set in DIR (e.g. 0.01): in each file a third of the
        fraction of rows removed, a third changed, as many added, and the fraction moved later; removed users take
        their experiments, removed compounds are stripped from experiments first. Streams; the seed picks the edits.
    """;

int? users = null, experiments = null, compounds = null;
string? output = null;
ulong seed = 42;
var uniform = false;
string? editFrom = null;
double? editShare = null;
try
{
    for (var i = 0; i < args.Length; i++)
    {
        var name = args[i];
        if (name is "-h" or "--help")
        {
            Console.WriteLine(Usage);
            return 0;
        }
        if (i + 1 >= args.Length)
        {
            throw new FormatException($"{name} needs a value");
        }
        var value = args[++i];
        switch (name)
        {
            case "--size":
                (users, experiments, compounds) = value.ToUpperInvariant() switch
                {
                    "S" => (users ?? 1_000, experiments ?? 10_000, compounds ?? 100),
                    "M" => (users ?? 100_000, experiments ?? 1_000_000, compounds ?? 1_000),
                    "L" => (users ?? 1_000_000, experiments ?? 10_000_000, compounds ?? 10_000),
                    "XL" => (users ?? 3_000_000, experiments ?? 30_000_000, compounds ?? 30_000),
                    _ => throw new FormatException($"unknown size '{value}' (S, M, L or XL)"),
                };
                break;
            case "--users":
                users = Count(value);
                break;
            case "--experiments":
                experiments = Count(value);
                break;
            case "--compounds":
                compounds = Count(value);
                break;
            case "--shape":
                uniform = value switch
                {
                    "skewed" => false,
                    "uniform" => true,
                    _ => throw new FormatException($"unknown shape '{value}' (skewed or uniform)"),
                };
                break;
            case "--edit-from":
                editFrom = value;
                break;
            case "--edit":
                editShare = double.Parse(value, NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture);
                if (editShare is not (> 0 and <= 1))
                {
                    throw new FormatException("--edit takes a fraction above 0 and at most 1");
                }
                break;
            case "--out":
                output = value;
                break;
            case "--seed":
                seed = ulong.Parse(value, NumberStyles.None, CultureInfo.InvariantCulture);
                break;
            default:
                throw new FormatException($"unknown option '{name}'");
        }
    }
    if ((editFrom is null) != (editShare is null))
    {
        throw new FormatException("give --edit-from and --edit together");
    }
    if (editFrom is null && (users is null || experiments is null || compounds is null) || output is null)
    {
        throw new FormatException("give --size or all of --users, --experiments and --compounds, and --out");
    }
}
catch (Exception e) when (e is FormatException or OverflowException)
{
    await Console.Error.WriteLineAsync($"error: {e.Message}\n{Usage}");
    return 2;
}

var inv = CultureInfo.InvariantCulture;
if (editFrom is not null)
{
    var (edits, elapsed) = new Editor(editFrom, editShare!.Value, seed).Run(output);
    foreach (var e in edits)
    {
        Console.WriteLine(string.Format(inv, "{0,-22}{1,12:N0} rows in {2,12:N0} out: {3:N0} removed, {4:N0} changed, {5:N0} added, {6:N0} moved; {7:N0} bytes",
            e.File, e.RowsIn, e.RowsOut, e.Removed, e.Changed, e.Added, e.Moved, e.Bytes));
    }
    Console.WriteLine(string.Format(inv, "edited {0:P2} of {1} in {2:F2} s, seed {3}, into {4}",
        editShare.Value, Path.GetFullPath(editFrom), elapsed.TotalSeconds, seed, Path.GetFullPath(output)));
    return 0;
}

var result = new Generator(new GeneratorOptions(users!.Value, experiments!.Value, compounds!.Value, seed, uniform)).Run(output);
long totalRows = 0, totalBytes = 0;
foreach (var (file, rows, bytes) in result.Files)
{
    Console.WriteLine(string.Format(inv, "{0,-22}{1,12:N0} rows {2,15:N0} bytes", file, rows, bytes));
    totalRows += rows;
    totalBytes += bytes;
}
Console.WriteLine(string.Format(inv, "{0,-22}{1,12:N0} rows {2,15:N0} bytes ({3:F1} MB) in {4:F2} s, seed {5}, into {6}",
    "total", totalRows, totalBytes, totalBytes / 1e6, result.Elapsed.TotalSeconds, seed, Path.GetFullPath(output)));
Console.WriteLine(string.Format(inv,
    "skew: {0:P1} of users run no experiment; the top 1% of users run {1:P1} of them (the busiest {2:N0}); {3:F2} compounds per experiment",
    (double)result.InactiveUsers / users.Value, result.TopPercentShare, result.MaxExperimentsPerUser, result.CompoundsPerExperiment));
return 0;

static int Count(string value)
{
    var count = int.Parse(value.Replace("_", "", StringComparison.Ordinal), NumberStyles.None, CultureInfo.InvariantCulture);
    return count >= 1 ? count : throw new FormatException("counts must be at least 1");
}
