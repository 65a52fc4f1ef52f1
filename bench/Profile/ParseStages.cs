using ExperimentEtl.Csv;
using ExperimentEtl.Pipeline;
using nietras.SeparatedValues;

namespace ExperimentEtl.Bench.Profile;

/// <summary>
/// The read side of a run, one layer at a time: each stage does what the previous one did plus one more layer,
/// so the differences between stages are what each layer costs.
/// </summary>
static class ParseStages
{
    /// <summary>Bytes off the page cache, as the service opens the files.</summary>
    public static string ReadBytes(Input input)
    {
        var buffer = new byte[1 << 16];
        long total = 0;
        foreach (var path in input.Files)
        {
            using var stream = Input.Open(path);
            int read;
            while ((read = stream.Read(buffer)) > 0)
            {
                total += read;
            }
        }
        return Measure.Format($"{total:N0} bytes");
    }

    /// <summary>+ UTF-8 decoding into chars (the StreamReader the reader puts in front of Sep).</summary>
    public static string Decode(Input input)
    {
        var buffer = new char[1 << 16];
        long total = 0;
        foreach (var path in input.Files)
        {
            using var text = new StreamReader(Input.Open(path), Input.Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            int read;
            while ((read = text.Read(buffer)) > 0)
            {
                total += read;
            }
        }
        return Measure.Format($"{total:N0} chars");
    }

    /// <summary>+ Sep splitting rows and fields (configured as CsvRecordReader configures it).</summary>
    public static string Sep(Input input)
    {
        long rows = 0, chars = 0;
        foreach (var path in input.Files)
        {
            using var text = new StreamReader(Input.Open(path), Input.Utf8, detectEncodingFromByteOrderMarks: true, bufferSize: 1 << 16);
            using var reader = nietras.SeparatedValues.Sep.New(',').Reader(o => o with { HasHeader = false, DisableColCountCheck = true }).From(text);
            foreach (var row in reader)
            {
                rows++;
                for (var i = 0; i < row.ColCount; i++)
                {
                    chars += row[i].Span.Length;
                }
            }
        }
        return Measure.Format($"{rows:N0} lines, {chars:N0} field chars");
    }

    /// <summary>+ CsvRecordReader: header, blank lines, field counts, UTF-8 check, trimming, unescaping.</summary>
    public static string Records(Input input)
    {
        long rows = 0, chars = 0;
        var errors = new ErrorCollector();
        foreach (var (path, schema) in new[] { (input.Users, CsvSchema.Users), (input.Compounds, CsvSchema.Compounds), (input.Experiments, CsvSchema.Experiments) })
        {
            using var records = new CsvRecordReader(Input.Open(path), schema, errors);
            var columns = schema.Columns.Count;
            while (records.MoveNext())
            {
                rows++;
                for (var i = 0; i < columns; i++)
                {
                    chars += records[i].Length;
                }
            }
        }
        return Measure.Format($"{rows:N0} records, {chars:N0} field chars, {errors.Count} errors");
    }

    /// <summary>+ the typed readers: ids, dates, the compound list, strings for names and emails.</summary>
    public static string Typed(Input input)
    {
        long rows = 0, sum = 0;
        var errors = new ErrorCollector();
        using (var records = new CsvRecordReader(Input.Open(input.Users), CsvSchema.Users, errors))
        {
            var reader = new UserCsvReader(records);
            while (reader.TryRead(out var row))
            {
                rows++;
                sum += row.UserId + row.Name.Length + row.SignupDate.Day;
            }
        }
        using (var records = new CsvRecordReader(Input.Open(input.Compounds), CsvSchema.Compounds, errors))
        {
            var reader = new CompoundCsvReader(records);
            while (reader.TryRead(out var row))
            {
                rows++;
                sum += row.CompoundId + row.Name.Length;
            }
        }
        using (var records = new CsvRecordReader(Input.Open(input.Experiments), CsvSchema.Experiments, errors))
        {
            var reader = new ExperimentCsvReader(records);
            while (reader.TryRead(out var row))
            {
                rows++;
                sum += row.ExperimentId + row.UserId + row.CompoundIds.Length + row.RunTime;
            }
        }
        return Measure.Format($"{rows:N0} rows, checksum {sum}, {errors.Count} errors");
    }

    /// <summary>
    /// + what EtlPipeline does besides writing: uniqueness and reference checks (IdSet, FeatureAccumulator.HasUser)
    /// and the features (FeatureAccumulator.AddUser/AddExperiment/Build). Everything a run does except the database.
    /// </summary>
    public static string Validated(Input input)
    {
        long rows = 0;
        var errors = new ErrorCollector();
        var steps = new Steps();
        using var features = new FeatureAccumulator();
        var compounds = new IdSet();
        var experiments = new IdSet();
        using (var records = new CsvRecordReader(Input.Open(input.Users), CsvSchema.Users, errors))
        {
            var reader = new UserCsvReader(records);
            while (reader.TryRead(out var row))
            {
                rows++;
                if (!features.AddUser(row.UserId))
                {
                    records.FieldError(0, "duplicate");
                }
            }
        }
        steps.Mark("users");
        using (var records = new CsvRecordReader(Input.Open(input.Compounds), CsvSchema.Compounds, errors))
        {
            var reader = new CompoundCsvReader(records);
            while (reader.TryRead(out var row))
            {
                rows++;
                if (!compounds.Add(row.CompoundId))
                {
                    records.FieldError(0, "duplicate");
                }
            }
        }
        using (var records = new CsvRecordReader(Input.Open(input.Experiments), CsvSchema.Experiments, errors))
        {
            var reader = new ExperimentCsvReader(records);
            features.StartExperiments(compounds.Max); // as EtlPipeline does
            while (reader.TryRead(out var row))
            {
                rows++;
                var valid = experiments.Add(row.ExperimentId) && features.HasUser(row.UserId);
                foreach (var compoundId in row.CompoundIds)
                {
                    valid &= compounds.Contains(compoundId);
                }
                if (valid)
                {
                    features.AddExperiment(row.UserId, row.CompoundIds);
                }
                else
                {
                    records.FieldError(0, "invalid");
                }
            }
        }
        steps.Mark("experiments");
        var built = features.Build(compounds.Count);
        steps.Mark("build");
        return Measure.Format($"{rows:N0} rows, {built.ActiveUserCount:N0} active users, {errors.Count} errors; {steps}");
    }
}
