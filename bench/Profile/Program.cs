// Where a run's time goes, layer by layer, on a generated data folder (see docs/benchmarks.md).
//   dotnet run --project bench/Profile -c Release -- --data DIR [--stages LIST] [--repeat N] [--pg URL] [--sqlite-dir DIR]
//   dotnet run --project bench/Profile -c Release -- bdn [BenchmarkDotNet arguments, e.g. --filter '*']
using System.Globalization;
using BenchmarkDotNet.Running;
using ExperimentEtl.Bench.Profile;
using ExperimentEtl.Model;

const string Usage = """
    usage: Profile --data DIR [--stages LIST] [--repeat N] [--pg URL] [--sqlite-dir DIR] [--only TEXT]
           Profile bdn [BenchmarkDotNet arguments]
      stages (comma-separated; default all, the pg ones only with --pg):
        io decode sep records typed validated   the read side, one layer more each
        features                                FeatureAccumulator, then its PairCounter alone, on rows in memory
        sqlite                                  the SQLite load on rows in memory: as the service, then one change at a time
        pg-floor                                bench/run.sh's floor (psql \copy into text tables) on the same server, for ratios
        pg                                      the PostgreSQL load on rows in memory: as the service, then without index/keys
        pg-pipeline                             parse + COPY of user_experiments.csv on one thread, then on two
      --repeat N   repetitions of each stage in this process (default 3): the first is cold (tier-0 JIT), the rest warm
      --only TEXT  run only the sqlite/pg variants whose name contains TEXT
    """;

if (args.Length > 0 && args[0] == "bdn")
{
    BenchmarkSwitcher.FromAssembly(typeof(Micro).Assembly).Run(args[1..]);
    return 0;
}

string? data = null, pg = null, sqliteDirectory = null, only = null;
var stages = new List<string>();
var repeat = 3;
for (var i = 0; i + 1 < args.Length; i += 2)
{
    switch (args[i])
    {
        case "--data": data = args[i + 1]; break;
        case "--pg": pg = args[i + 1]; break;
        case "--sqlite-dir": sqliteDirectory = args[i + 1]; break;
        case "--only": only = args[i + 1]; break;
        case "--stages": stages.AddRange(args[i + 1].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)); break;
        case "--repeat": repeat = int.Parse(args[i + 1], CultureInfo.InvariantCulture); break;
        default:
            Console.Error.WriteLine(Usage);
            return 2;
    }
}
if (data is null || args.Length % 2 != 0)
{
    Console.Error.WriteLine(Usage);
    return 2;
}
if (stages.Count == 0)
{
    stages.AddRange(["io", "decode", "sep", "records", "typed", "validated", "features", "sqlite"]);
    if (pg is not null)
    {
        stages.AddRange(["pg-floor", "pg", "pg-pipeline"]);
    }
}

var input = new Input(data);
var rows = 0L;
foreach (var path in input.Files)
{
    // Data rows: line breaks, less users.csv's leading blank line (the files have no final newline).
    rows += File.ReadLines(path).LongCount() - 1 - (path == input.Users ? 1 : 0);
}
Console.WriteLine($"data {Path.GetFullPath(data)}: {rows:N0} rows; {Environment.ProcessorCount} cores; server GC {System.Runtime.GCSettings.IsServerGC}");
Measure.Header();

Loaded? loaded = null;
DataSetFeatures? features = null;
Loaded Preloaded() => loaded ??= Loaded.Read(input);
DataSetFeatures Features()
{
    if (features is null)
    {
        FeatureStages.Accumulator(Preloaded(), out var built);
        features = built;
    }
    return features;
}

sqliteDirectory ??= Directory.CreateTempSubdirectory("etl-profile-").FullName;
var connectionString = pg is null ? null : PostgresStages.ConnectionString(pg);
foreach (var stage in stages)
{
    switch (stage)
    {
        case "io": Measure.Run("io: read bytes", repeat, rows, () => ParseStages.ReadBytes(input)); break;
        case "decode": Measure.Run("+ utf-8 decode", repeat, rows, () => ParseStages.Decode(input)); break;
        case "sep": Measure.Run("+ sep split", repeat, rows, () => ParseStages.Sep(input)); break;
        case "records": Measure.Run("+ CsvRecordReader", repeat, rows, () => ParseStages.Records(input)); break;
        case "typed": Measure.Run("+ typed readers", repeat, rows, () => ParseStages.Typed(input)); break;
        case "validated": Measure.Run("+ checks + features", repeat, rows, () => ParseStages.Validated(input)); break;
        case "features":
            var inMemory = Preloaded();
            Measure.Run("features: FeatureAccumulator", repeat, inMemory.Rows, () => FeatureStages.Accumulator(inMemory, out features));
            Measure.Run("features: PairCounter", repeat, inMemory.Rows, () => FeatureStages.Packed(inMemory, Features()));
            break;
        case "sqlite":
            Features(); // parsed into memory before the clock starts
            foreach (var variant in SqliteStages.Variants.Where(v => only is null || v.Name.Contains(only, StringComparison.Ordinal)))
            {
                Measure.Run(variant.Name, repeat, Preloaded().Rows,
                    () => SqliteStages.Load(Preloaded(), Features(), Path.Combine(sqliteDirectory, "profile.db"), variant));
            }
            break;
        case "pg-floor" when pg is not null:
            Measure.Run("pg: text floor (psql \\copy)", repeat, rows, () => PostgresStages.TextFloor(input, pg));
            break;
        case "pg" when connectionString is not null:
            Features(); // parsed into memory before the clock starts
            foreach (var variant in PostgresStages.Variants.Where(v => only is null || v.Name.Contains(only, StringComparison.Ordinal)))
            {
                Measure.Run(variant.Name, repeat, Preloaded().Rows, () => PostgresStages.Load(Preloaded(), Features(), connectionString, variant));
            }
            break;
        case "pg-pipeline" when connectionString is not null:
            var userIds = Preloaded().Users.Select(u => u.UserId).ToArray();
            var experimentRows = Preloaded().ExperimentCount;
            Measure.Run("pg: parse+copy, 1 thread", repeat, experimentRows, () => PostgresStages.ParseAndCopy(input, userIds, connectionString, twoThreads: false));
            Measure.Run("pg: parse+copy, 2 threads", repeat, experimentRows, () => PostgresStages.ParseAndCopy(input, userIds, connectionString, twoThreads: true));
            break;
        default:
            Console.Error.WriteLine($"unknown stage '{stage}' (or it needs --pg)\n{Usage}");
            return 2;
    }
}
return 0;
