using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace ExperimentEtl.Bench.DataGenerator;

/// <summary>What an edit did to one file.</summary>
sealed record FileEdit(string File, long RowsIn, long RowsOut, long Removed, long Changed, long Added, long Moved, long Bytes);

/// <summary>
/// Writes an edited copy of a data set in the generator's dialect, streaming, so the next load has something to compare
/// with the previous one. With share s, in each file: s/3 of the rows removed, s/3 changed, s/3 as many rows added
/// (ids above the input's highest, at the end of the file), and s of the rows moved later in the file. Removed users
/// take their experiments with them; removed compounds are first stripped from every experiment that lists them (an
/// experiment left with none gets another compound); a further s/3 of the experiments have their list rewritten
/// reversed with an id repeated (<c>3;2;1;3</c> for <c>1;2;3</c>: the same set). The result is valid in strict mode.
/// Which rows are touched is a hash of the id and the seed, the rest comes from <see cref="Rng"/>: the same input,
/// share and seed give the same bytes. Memory: the compounds, the surviving user ids (4 bytes each) and the rows held
/// back to be moved.
/// </summary>
sealed class Editor(string from, double share, ulong seed)
{
    const string UsersFile = "users.csv";
    const string CompoundsFile = "compounds.csv";
    const string ExperimentsFile = "user_experiments.csv";

    static readonly string[] UserColumns = ["user_id", "name", "email", "signup_date"];
    static readonly string[] CompoundColumns = ["compound_id", "compound_name", "compound_structure"];
    static readonly string[] ExperimentColumns = ["experiment_id", "user_id", "experiment_compound_ids", "experiment_run_time"];

    readonly double _third = share / 3;
    readonly RowBuffer _row = new();

    // Compounds: removed ones by id, and the ids left (with the added ones) to draw from.
    bool[] _compoundRemoved = [];
    int[] _compoundIds = [];
    // Users left (with the added ones) to draw from when an experiment moves to another user or is added.
    int[] _userIds = [];

    public (IReadOnlyList<FileEdit> Files, TimeSpan Elapsed) Run(string directory)
    {
        if (Path.GetFullPath(directory).TrimEnd('/') == Path.GetFullPath(from).TrimEnd('/'))
        {
            throw new ArgumentException("--out must be another folder than --edit-from");
        }
        Directory.CreateDirectory(directory);
        var stopwatch = Stopwatch.StartNew();
        var files = new List<FileEdit>
        {
            Edit(directory, CompoundsFile, CompoundColumns, 31, EditCompounds),
            Edit(directory, UsersFile, UserColumns, 32, EditUsers),
            Edit(directory, ExperimentsFile, ExperimentColumns, 33, EditExperiments),
        };
        return (files, stopwatch.Elapsed);
    }

    /// <summary>How a row is touched, from a hash of its id: removed, changed, (experiments) list rewritten, or kept.</summary>
    enum Touch { Keep, Remove, Change, Rewrite }

    Touch Decide(ulong stream, int id)
    {
        var u = (Rng.Hash(seed, stream, (ulong)id) >> 11) * (1.0 / (1UL << 53));
        return u < _third ? Touch.Remove : u < 2 * _third ? Touch.Change : u < 3 * _third ? Touch.Rewrite : Touch.Keep;
    }

    long Added(long rows) => (long)Math.Round(_third * rows);

    delegate FileEdit Body(LineReader reader, RowMixer mixer, Rng rng);

    /// <summary>Copies the lines up to the header as they are, then lets the body edit the rows into a temporary file renamed at the end.</summary>
    FileEdit Edit(string directory, string name, string[] columns, ulong stream, Body body)
    {
        var temporary = Path.Combine(directory, "." + name + ".tmp");
        FileEdit edit;
        using (var reader = new LineReader(Path.Combine(from, name)))
        using (var writer = new AsciiWriter(temporary))
        {
            var first = true;
            while (true)
            {
                if (!reader.TryRead(out var line))
                {
                    throw new FormatException($"{name}: no header");
                }
                if (!first)
                {
                    writer.Write((byte)'\n');
                }
                first = false;
                writer.Write(line);
                if (!Trim(line).IsEmpty)
                {
                    CheckHeader(name, line, columns);
                    break;
                }
            }
            var rng = new Rng(seed, stream);
            edit = body(reader, new RowMixer(writer, rng, share), rng);
            edit = edit with { Bytes = writer.BytesWritten };
        }
        File.Move(temporary, Path.Combine(directory, name), overwrite: true);
        return edit;
    }

    FileEdit EditCompounds(LineReader reader, RowMixer mixer, Rng rng)
    {
        var rows = ReadAll(reader);
        long removed = 0, changed = 0;
        var maxId = rows.Count == 0 ? 0 : rows.Max(r => r.Id);
        _compoundRemoved = new bool[maxId + 1];
        var kept = new List<int>();
        foreach (var (id, _) in rows)
        {
            _compoundRemoved[id] = Decide(21, id) == Touch.Remove;
        }
        if (rows.Count > 0 && rows.All(r => _compoundRemoved[r.Id]))
        {
            _compoundRemoved[rows[0].Id] = false; // experiments need a compound left
        }
        Span<Range> fields = stackalloc Range[3];
        foreach (var (id, line) in rows)
        {
            if (_compoundRemoved[id])
            {
                removed++;
                continue;
            }
            kept.Add(id);
            Fields(line, fields);
            if (Decide(21, id) == Touch.Change)
            {
                changed++;
                _row.Clear().Number(id).Separator().Bytes(Field(line, fields[1]));
                var structure = rng.Below(2) == 0;
                if (!structure)
                {
                    _row.Bytes("-v2"u8);
                }
                _row.Separator().Bytes(Field(line, fields[2]));
                if (structure)
                {
                    _row.Bytes("Cl"u8);
                }
                mixer.Write(_row.Span);
            }
            else
            {
                mixer.Write(line);
            }
        }
        var added = Added(rows.Count);
        for (var id = maxId + 1; id <= maxId + added; id++)
        {
            kept.Add(id);
            mixer.Write(_row.Clear().Number(id).Separator().Bytes("Added compound "u8).Number(id).Separator().Bytes("C6H6"u8).Span);
        }
        mixer.Finish();
        _compoundIds = [.. kept];
        return new FileEdit(CompoundsFile, rows.Count, kept.Count, removed, changed, added, mixer.Moved, 0);
    }

    FileEdit EditUsers(LineReader reader, RowMixer mixer, Rng rng)
    {
        long rowsIn = 0, removed = 0, changed = 0;
        var maxId = 0;
        var kept = new List<int>();
        Span<Range> fields = stackalloc Range[4];
        while (reader.TryRead(out var line))
        {
            if (Trim(line).IsEmpty)
            {
                continue;
            }
            rowsIn++;
            Fields(line, fields);
            var id = ParseInt(Field(line, fields[0]), line);
            maxId = Math.Max(maxId, id);
            switch (Decide(22, id))
            {
                case Touch.Remove:
                    removed++;
                    continue;
                case Touch.Change:
                    changed++;
                    var field = 1 + rng.Below(3);
                    _row.Clear().Number(id).Separator().Bytes(Field(line, fields[1]));
                    if (field == 1)
                    {
                        _row.Bytes(" Jr."u8);
                    }
                    _row.Separator();
                    if (field == 2)
                    {
                        _row.Bytes("new."u8);
                    }
                    _row.Bytes(Field(line, fields[2])).Separator();
                    if (field == 3)
                    {
                        var date = DateOnly.ParseExact(Encoding.ASCII.GetString(Field(line, fields[3])), "yyyy-MM-dd", CultureInfo.InvariantCulture);
                        _row.Bytes(Encoding.ASCII.GetBytes(date.AddDays(1).ToString("yyyy-MM-dd", CultureInfo.InvariantCulture)));
                    }
                    else
                    {
                        _row.Bytes(Field(line, fields[3]));
                    }
                    mixer.Write(_row.Span);
                    break;
                default:
                    mixer.Write(line);
                    break;
            }
            kept.Add(id);
        }
        var added = Added(rowsIn);
        for (var id = maxId + 1; id <= maxId + added; id++)
        {
            kept.Add(id);
            mixer.Write(_row.Clear().Number(id).Separator().Bytes("Added User"u8).Separator().Bytes("added"u8).Number(id)
                .Bytes("@example.com"u8).Separator().Bytes("2025-01-01"u8).Span);
        }
        mixer.Finish();
        _userIds = [.. kept];
        return new FileEdit(UsersFile, rowsIn, kept.Count, removed, changed, added, mixer.Moved, 0);
    }

    FileEdit EditExperiments(LineReader reader, RowMixer mixer, Rng rng)
    {
        long rowsIn = 0, removed = 0, changed = 0, rowsOut = 0;
        var maxId = 0;
        var ids = new List<int>();
        Span<Range> fields = stackalloc Range[4];
        while (reader.TryRead(out var line))
        {
            if (Trim(line).IsEmpty)
            {
                continue;
            }
            rowsIn++;
            Fields(line, fields);
            var id = ParseInt(Field(line, fields[0]), line);
            var user = ParseInt(Field(line, fields[1]), line);
            maxId = Math.Max(maxId, id);
            var touch = Decide(23, id);
            // A removed user's experiments go with it.
            if (touch == Touch.Remove || Decide(22, user) == Touch.Remove)
            {
                removed++;
                continue;
            }
            rowsOut++;
            ids.Clear();
            var stripped = false;
            var list = Field(line, fields[2]);
            foreach (var range in list.Split((byte)';'))
            {
                var item = Trim(list[range]);
                if (item.IsEmpty)
                {
                    continue;
                }
                var compound = ParseInt(item, line);
                if (compound < _compoundRemoved.Length && _compoundRemoved[compound])
                {
                    stripped = true;
                }
                else if (!ids.Contains(compound))
                {
                    ids.Add(compound);
                }
            }
            if (ids.Count == 0)
            {
                ids.Add(AnyCompound(rng));
            }
            var runTime = ParseInt(Field(line, fields[3]), line);
            if (touch == Touch.Change || stripped)
            {
                changed++;
            }
            if (touch == Touch.Change)
            {
                switch (rng.Below(3))
                {
                    case 0 when _userIds.Length > 1:
                        var other = _userIds[rng.Below(_userIds.Length)];
                        user = other != user ? other : _userIds[(Array.IndexOf(_userIds, other) + 1) % _userIds.Length];
                        break;
                    case 1:
                        ChangeSet(ids, rng);
                        break;
                    default:
                        runTime += 1 + rng.Below(100);
                        break;
                }
            }
            if (touch == Touch.Keep && !stripped)
            {
                mixer.Write(line);
                continue;
            }
            if (touch == Touch.Rewrite)
            {
                ids.Reverse();
                ids.Add(ids[0]);
            }
            mixer.Write(Experiment(id, user, ids, runTime));
        }
        var added = Added(rowsIn);
        for (var id = maxId + 1; id <= maxId + added; id++)
        {
            ids.Clear();
            for (var n = 1 + rng.Below(3); n > 0; n--)
            {
                var compound = AnyCompound(rng);
                if (!ids.Contains(compound))
                {
                    ids.Add(compound);
                }
            }
            mixer.Write(Experiment(id, _userIds[rng.Below(_userIds.Length)], ids, 5 + rng.Below(56)));
            rowsOut++;
        }
        mixer.Finish();
        return new FileEdit(ExperimentsFile, rowsIn, rowsOut, removed, changed, added, mixer.Moved, 0);
    }

    /// <summary>Another set of compounds: one added when there is one to add, else one dropped.</summary>
    void ChangeSet(List<int> ids, Rng rng)
    {
        var compound = AnyCompound(rng);
        if (!ids.Contains(compound))
        {
            ids.Add(compound);
        }
        else if (ids.Count > 1)
        {
            ids.RemoveAt(rng.Below(ids.Count));
        }
        else
        {
            // The one id listed was drawn: another one, or the row it counts as changed would not change.
            ids[0] = _compoundIds[(Array.IndexOf(_compoundIds, compound) + 1) % _compoundIds.Length];
        }
    }

    int AnyCompound(Rng rng) => _compoundIds[rng.Below(_compoundIds.Length)];

    ReadOnlySpan<byte> Experiment(int id, int user, List<int> compounds, int runTime)
    {
        _row.Clear().Number(id).Separator().Number(user).Separator();
        for (var i = 0; i < compounds.Count; i++)
        {
            if (i > 0)
            {
                _row.Bytes(";"u8);
            }
            _row.Number(compounds[i]);
        }
        return _row.Separator().Number(runTime).Span;
    }

    static List<(int Id, byte[] Line)> ReadAll(LineReader reader)
    {
        var rows = new List<(int, byte[])>();
        Span<Range> fields = stackalloc Range[3];
        while (reader.TryRead(out var line))
        {
            if (!Trim(line).IsEmpty)
            {
                Fields(line, fields);
                rows.Add((ParseInt(Field(line, fields[0]), line), line.ToArray()));
            }
        }
        return rows;
    }

    static void CheckHeader(string file, ReadOnlySpan<byte> line, string[] columns)
    {
        var names = Encoding.UTF8.GetString(line).Split(',').Select(n => n.Trim(' ', '\t')).ToArray();
        if (!names.SequenceEqual(columns))
        {
            throw new FormatException($"{file}: the header must be {string.Join(", ", columns)} in that order (the generator's files)");
        }
    }

    /// <summary>Finds the first fields.Length fields of a line; the generator writes no quotes.</summary>
    static void Fields(ReadOnlySpan<byte> line, Span<Range> fields)
    {
        var i = 0;
        foreach (var range in line.Split((byte)','))
        {
            if (i == fields.Length)
            {
                return;
            }
            fields[i++] = range;
        }
        if (i < fields.Length)
        {
            throw new FormatException($"expected {fields.Length} fields: '{Encoding.UTF8.GetString(line)}'");
        }
    }

    /// <summary>A field trimmed of spaces and tabs.</summary>
    static ReadOnlySpan<byte> Field(ReadOnlySpan<byte> line, Range range) => Trim(line[range]);

    static int ParseInt(ReadOnlySpan<byte> text, ReadOnlySpan<byte> line) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value)
            ? value : throw new FormatException($"'{Encoding.UTF8.GetString(text)}' is not a whole number in '{Encoding.UTF8.GetString(line)}'");

    static ReadOnlySpan<byte> Trim(ReadOnlySpan<byte> span) => span.Trim(" \t"u8);
}
