using System.Text;
using ExperimentEtl.Csv;

namespace ExperimentEtl.Bench.Profile;

/// <summary>The three input files of a data folder.</summary>
sealed class Input(string directory)
{
    public string Users { get; } = Path.Combine(directory, CsvSchema.Users.FileName);

    public string Compounds { get; } = Path.Combine(directory, CsvSchema.Compounds.FileName);

    public string Experiments { get; } = Path.Combine(directory, CsvSchema.Experiments.FileName);

    public IEnumerable<string> Files => [Users, Compounds, Experiments];

    /// <summary>Opened as the service opens them (DataSetSource): unbuffered stream, sequential scan.</summary>
    public static FileStream Open(string path) =>
        new(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);

    public static readonly Encoding Utf8 = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: false);
}

/// <summary>
/// The three files parsed into arrays by the project's typed readers (not timed), so the database stages measure the
/// database alone.
/// </summary>
sealed class Loaded
{
    public required UserRow[] Users { get; init; }

    public required CompoundRow[] Compounds { get; init; }

    public required int[] ExperimentIds { get; init; }

    public required int[] ExperimentUsers { get; init; }

    public required int[] RunTimes { get; init; }

    /// <summary>Experiment i's compound ids are CompoundIds[CompoundStart[i]..CompoundStart[i + 1]].</summary>
    public required int[] CompoundStart { get; init; }

    public required int[] CompoundIds { get; init; }

    public int ExperimentCount => ExperimentIds.Length;

    public long Rows => Users.Length + Compounds.Length + ExperimentIds.Length;

    public ReadOnlySpan<int> CompoundsOf(int experiment) =>
        CompoundIds.AsSpan(CompoundStart[experiment], CompoundStart[experiment + 1] - CompoundStart[experiment]);

    public static Loaded Read(Input input)
    {
        var errors = new ErrorCollector();
        var users = new List<UserRow>();
        using (var records = new CsvRecordReader(Input.Open(input.Users), CsvSchema.Users, errors))
        {
            var reader = new UserCsvReader(records);
            while (reader.TryRead(out var row))
            {
                users.Add(row);
            }
        }
        var compounds = new List<CompoundRow>();
        using (var records = new CsvRecordReader(Input.Open(input.Compounds), CsvSchema.Compounds, errors))
        {
            var reader = new CompoundCsvReader(records);
            while (reader.TryRead(out var row))
            {
                compounds.Add(row);
            }
        }
        List<int> ids = [], owners = [], runTimes = [], start = [0], compoundIds = [];
        using (var records = new CsvRecordReader(Input.Open(input.Experiments), CsvSchema.Experiments, errors))
        {
            var reader = new ExperimentCsvReader(records);
            while (reader.TryRead(out var row))
            {
                ids.Add(row.ExperimentId);
                owners.Add(row.UserId);
                runTimes.Add(row.RunTime);
                compoundIds.AddRange(row.CompoundIds);
                start.Add(compoundIds.Count);
            }
        }
        if (errors.HasErrors)
        {
            throw new InvalidDataException($"the input has {errors.Count} error(s), e.g. {errors.Kept[0]}");
        }
        return new Loaded
        {
            Users = [.. users],
            Compounds = [.. compounds],
            ExperimentIds = [.. ids],
            ExperimentUsers = [.. owners],
            RunTimes = [.. runTimes],
            CompoundStart = [.. start],
            CompoundIds = [.. compoundIds],
        };
    }
}
