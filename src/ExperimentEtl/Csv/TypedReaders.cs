using System.Globalization;

namespace ExperimentEtl.Csv;

/// <summary>Field parsers shared by the typed readers: each records a line-numbered error and says whether it succeeded.</summary>
static class Fields
{
    public static bool TryId(CsvRecordReader records, int column, out int value)
    {
        var text = records[column];
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out value))
        {
            return true;
        }
        records.FieldError(column, text.IsEmpty ? "a value is required" : "must be a whole number from 0 to 2147483647");
        return false;
    }

    public static bool TryText(CsvRecordReader records, int column, bool required, out string value)
    {
        var text = records[column];
        if (required && text.IsEmpty)
        {
            records.FieldError(column, "a value is required");
            value = "";
            return false;
        }
        value = text.ToString();
        return true;
    }

    public static bool TryDate(CsvRecordReader records, int column, out DateOnly value)
    {
        var text = records[column];
        if (DateOnly.TryParseExact(text, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out value))
        {
            return true;
        }
        records.FieldError(column, text.IsEmpty ? "a value is required" : "must be a date written YYYY-MM-DD");
        return false;
    }
}

/// <summary>Reads users.csv into <see cref="UserRow"/>s; invalid rows become errors and are skipped.</summary>
public sealed class UserCsvReader(CsvRecordReader records)
{
    public CsvRecordReader Records { get; } = records;

    /// <summary>Told the id and line of each invalid row whose id could be read, so its experiments can say why they fail.</summary>
    public Action<int, long>? Rejected { get; init; }

    public bool TryRead(out UserRow row)
    {
        while (Records.MoveNext())
        {
            var ok = Fields.TryId(Records, 0, out var id);
            ok &= Fields.TryText(Records, 1, required: true, out var name);
            ok &= Fields.TryText(Records, 2, required: false, out var email);
            ok &= Fields.TryDate(Records, 3, out var signup);
            if (ok)
            {
                row = new UserRow(id, name, email, signup);
                return true;
            }
            if (int.TryParse(Records[0], System.Globalization.NumberStyles.None, CultureInfo.InvariantCulture, out var rejectedId))
            {
                Rejected?.Invoke(rejectedId, Records.Line);
            }
        }
        row = default;
        return false;
    }
}

/// <summary>Reads compounds.csv into <see cref="CompoundRow"/>s; invalid rows become errors and are skipped.</summary>
public sealed class CompoundCsvReader(CsvRecordReader records)
{
    public CsvRecordReader Records { get; } = records;

    public bool TryRead(out CompoundRow row)
    {
        while (Records.MoveNext())
        {
            var ok = Fields.TryId(Records, 0, out var id);
            ok &= Fields.TryText(Records, 1, required: true, out var name);
            ok &= Fields.TryText(Records, 2, required: false, out var structure);
            if (ok)
            {
                row = new CompoundRow(id, name, structure);
                return true;
            }
        }
        row = default;
        return false;
    }
}

/// <summary>Reads user_experiments.csv into <see cref="ExperimentRow"/>s; invalid rows become errors and are skipped.</summary>
public sealed class ExperimentCsvReader(CsvRecordReader records)
{
    public const int CompoundIdsColumn = 2;
    const int MaxCachedLength = 16;

    /// <summary>More ids than this in one experiment is taken for a broken file rather than an experiment.</summary>
    public const int MaxCompoundsPerExperiment = 1000;

    // Rows hand out exact-length arrays (what a COPY of an int[] column needs) without allocating one per row.
    readonly int[][] _exactLength = [.. Enumerable.Range(0, MaxCachedLength + 1).Select(n => new int[n])];
    int[] _scratch = new int[MaxCachedLength];

    public CsvRecordReader Records { get; } = records;

    public bool TryRead(out ExperimentRow row)
    {
        while (Records.MoveNext())
        {
            var ok = Fields.TryId(Records, 0, out var id);
            ok &= Fields.TryId(Records, 1, out var userId);
            ok &= TryCompoundIds(out var compoundIds);
            ok &= Fields.TryId(Records, 3, out var runTime);
            if (ok)
            {
                row = new ExperimentRow(id, userId, compoundIds, runTime);
                return true;
            }
        }
        row = default;
        return false;
    }

    bool TryCompoundIds(out int[] ids)
    {
        ids = [];
        var text = Records[CompoundIdsColumn];
        var count = 0;
        foreach (var range in text.Split(';'))
        {
            var item = CsvRecordReader.Trim(text[range]);
            if (item.IsEmpty)
            {
                continue; // "1;2;" and "1;;2" are read as "1;2".
            }
            if (!int.TryParse(item, NumberStyles.None, CultureInfo.InvariantCulture, out var compoundId))
            {
                Records.FieldError(CompoundIdsColumn, $"'{item}' is not a compound id: list whole numbers separated by ';'");
                return false;
            }
            if (!Contains(_scratch.AsSpan(0, count), compoundId))
            {
                if (count == MaxCompoundsPerExperiment)
                {
                    Records.FieldError(CompoundIdsColumn, $"an experiment may list at most {MaxCompoundsPerExperiment} compounds");
                    return false;
                }
                if (count == _scratch.Length)
                {
                    Array.Resize(ref _scratch, count * 2);
                }
                _scratch[count++] = compoundId;
            }
        }
        if (count == 0)
        {
            Records.FieldError(CompoundIdsColumn, "an experiment must list at least one compound id");
            return false;
        }
        ids = count <= MaxCachedLength ? _exactLength[count] : new int[count];
        _scratch.AsSpan(0, count).CopyTo(ids);
        return true;
    }

    // Lists are short (1–4 ids), where a linear scan beats hashing; the cap above bounds the worst case.
    static bool Contains(ReadOnlySpan<int> ids, int id) => ids.Contains(id);
}
