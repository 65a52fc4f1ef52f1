using System.Globalization;
using System.Text;

namespace ExperimentEtl.Tests.Changes;

/// <summary>
/// The three files as text, read and written by plain string handling (not the product's reader), so a test's
/// expectation never depends on the code under test. Reading follows the documented rules: blank lines skipped, the
/// first other line is the header (columns found by name), fields trimmed of spaces and tabs, a field in double quotes
/// unquoted, empty items of an id list ignored.
/// </summary>
static class ExportCsv
{
    public const string UsersFile = "users.csv";
    public const string CompoundsFile = "compounds.csv";
    public const string ExperimentsFile = "user_experiments.csv";

    static readonly string[] UserColumns = ["user_id", "name", "email", "signup_date"];
    static readonly string[] CompoundColumns = ["compound_id", "compound_name", "compound_structure"];
    static readonly string[] ExperimentColumns = ["experiment_id", "user_id", "experiment_compound_ids", "experiment_run_time"];
    static readonly string[] Pads = ["", "", " ", "  ", "\t", " \t "];

    public static ExportData Read(string folder) => new()
    {
        Users = [.. Rows(Path.Combine(folder, UsersFile), UserColumns).Select(r =>
            new ExportUser(Id(r, 0), Required(r, 1), r.Fields[2], Date(r, 3)))],
        Compounds = [.. Rows(Path.Combine(folder, CompoundsFile), CompoundColumns).Select(r =>
            new ExportCompound(Id(r, 0), Required(r, 1), r.Fields[2]))],
        Experiments = [.. Rows(Path.Combine(folder, ExperimentsFile), ExperimentColumns).Select(r =>
            new ExportExperiment(Id(r, 0), Id(r, 1), IdList(r, 2), Id(r, 3)))],
    };

    public static void Write(ExportData data, string folder)
    {
        Directory.CreateDirectory(folder);
        var random = data.PaddingSeed is { } seed ? new Random(seed) : null;
        // users.csv starts with a blank line, as the seed's does.
        File.WriteAllText(Path.Combine(folder, UsersFile), Text("\n", UserColumns, data.Users.Select(u =>
            new[] { Number(u.Id), u.Name, u.Email, u.SignupDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture) }), random));
        File.WriteAllText(Path.Combine(folder, CompoundsFile), Text("", CompoundColumns, data.Compounds.Select(c =>
            new[] { Number(c.Id), c.Name, c.Structure }), random));
        File.WriteAllText(Path.Combine(folder, ExperimentsFile), Text("", ExperimentColumns, data.Experiments.Select(e =>
            new[] { Number(e.Id), Number(e.UserId), string.Join(';', e.CompoundIds.Select(id => Pad(Number(id), random))), Number(e.RunTime) }), random));
    }

    static string Text(string prefix, string[] header, IEnumerable<string[]> rows, Random? random)
    {
        var text = new StringBuilder(prefix).AppendJoin(",\t", header);
        foreach (var row in rows)
        {
            text.Append('\n').AppendJoin(",\t", row.Select(field => Pad(Quoted(field), random)));
        }
        return text.ToString();
    }

    static string Pad(string field, Random? random) =>
        random is null ? field : Pads[random.Next(Pads.Length)] + field + Pads[random.Next(Pads.Length)];

    static string Quoted(string field) =>
        field.AsSpan().IndexOfAny(",\"\n\r") < 0 ? field : "\"" + field.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";

    static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

    sealed record Row(string File, int Line, string[] Fields);

    /// <summary>The rows of a file with its fields in <paramref name="columns"/>' order, trimmed and unquoted.</summary>
    static IEnumerable<Row> Rows(string path, string[] columns)
    {
        var name = Path.GetFileName(path);
        int[]? source = null;
        var lines = File.ReadAllText(path).Split('\n');
        for (var i = 0; i < lines.Length; i++)
        {
            var line = lines[i].TrimEnd('\r');
            if (line.AsSpan().Trim(" \t").IsEmpty)
            {
                continue;
            }
            var fields = Split(line, name, i + 1);
            if (source is null)
            {
                source = [.. columns.Select(c => Array.IndexOf(fields, c))];
                if (source.Contains(-1))
                {
                    throw new FormatException($"{name}:{i + 1}: the header has not all of {string.Join(", ", columns)}");
                }
                continue;
            }
            if (fields.Length <= source.Max())
            {
                throw new FormatException($"{name}:{i + 1}: too few fields");
            }
            yield return new Row(name, i + 1, [.. source.Select(s => fields[s])]);
        }
    }

    /// <summary>Splits a line on commas outside double quotes; each field trimmed, then unquoted.</summary>
    static string[] Split(string line, string file, int lineNumber)
    {
        var fields = new List<string>();
        var field = new StringBuilder();
        var quoted = false;
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '"')
            {
                quoted = !quoted;
            }
            if (c == ',' && !quoted)
            {
                fields.Add(Field(field.ToString()));
                field.Clear();
            }
            else
            {
                field.Append(c);
            }
        }
        if (quoted)
        {
            throw new FormatException($"{file}:{lineNumber}: a quote is not closed");
        }
        fields.Add(Field(field.ToString()));
        return [.. fields];

        static string Field(string raw)
        {
            var text = raw.Trim(' ', '\t');
            return text.Length >= 2 && text[0] == '"' && text[^1] == '"'
                ? text[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal).Trim(' ', '\t')
                : text;
        }
    }

    static int Id(Row row, int column) =>
        int.TryParse(row.Fields[column], NumberStyles.None, CultureInfo.InvariantCulture, out var value) ? value : throw Invalid(row, column, "not a whole number");

    static string Required(Row row, int column) => row.Fields[column].Length > 0 ? row.Fields[column] : throw Invalid(row, column, "empty");

    static DateOnly Date(Row row, int column) =>
        DateOnly.TryParseExact(row.Fields[column], "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var value)
            ? value : throw Invalid(row, column, "not a date");

    static int[] IdList(Row row, int column)
    {
        var items = row.Fields[column].Split(';').Select(item => item.Trim(' ', '\t')).Where(item => item.Length > 0).ToArray();
        var ids = new int[items.Length];
        for (var i = 0; i < items.Length; i++)
        {
            if (!int.TryParse(items[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw Invalid(row, column, $"'{items[i]}' is not an id");
            }
        }
        return ids.Length > 0 ? ids : throw Invalid(row, column, "no compound id");
    }

    static FormatException Invalid(Row row, int column, string why) =>
        new($"{row.File}:{row.Line}: field {column + 1} '{row.Fields[column]}': {why}");
}
