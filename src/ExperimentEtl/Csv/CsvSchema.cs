namespace ExperimentEtl.Csv;

/// <summary>The columns one input file must provide, in the seed's order (used when a file has no header).</summary>
public sealed class CsvSchema(string fileName, params string[] columns)
{
    public string FileName { get; } = fileName;

    public IReadOnlyList<string> Columns { get; } = columns;

    public static CsvSchema Users { get; } = new("users.csv", "user_id", "name", "email", "signup_date");

    public static CsvSchema Compounds { get; } = new("compounds.csv", "compound_id", "compound_name", "compound_structure");

    public static CsvSchema Experiments { get; } =
        new("user_experiments.csv", "experiment_id", "user_id", "experiment_compound_ids", "experiment_run_time");

    /// <summary>The three files, in the order a run reads them.</summary>
    public static IReadOnlyList<CsvSchema> All { get; } = [Users, Compounds, Experiments];

    internal int IndexOf(ReadOnlySpan<char> name)
    {
        for (var i = 0; i < Columns.Count; i++)
        {
            if (name.Equals(Columns[i], StringComparison.OrdinalIgnoreCase))
            {
                return i;
            }
        }
        return -1;
    }
}
