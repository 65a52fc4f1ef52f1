using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;
using ExperimentEtl.Telemetry;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// One pass over the three files: read, validate, stream valid rows into the load, and compute the features on the way.
/// </summary>
/// <remarks>
/// Files are read users → compounds → experiments so that every reference can be checked as it streams past.
/// Strict runs are all or nothing: after the first error rows are still validated (to report every problem at once)
/// but no longer written, and the load is never committed. Lenient runs skip and record invalid rows and load the rest;
/// a problem with a whole file (missing, empty, unusable header) still fails them.
/// </remarks>
public static class EtlPipeline
{
    const int ProgressInterval = 4096;

    /// <param name="onProgress">Called every few thousand rows with the files' figures so far.</param>
    /// <param name="budget">Bounds the feature state, which spills to disk beyond its share.</param>
    public static RunOutcome Execute(
        DataSetSource source,
        IDataSetLoad load,
        RunRecord run,
        Action<IReadOnlyList<FileStats>>? onProgress,
        MemoryBudget budget,
        TimeProvider clock,
        CancellationToken cancellationToken)
    {
        var errors = new ErrorCollector(run.Mode);
        // Disposed whatever the end of the run (after the commit has read the features): spilled pairs are deleted.
        using IFeatureAccumulator features = load.DerivesFeatures ? new CountingAccumulator() : new FeatureAccumulator(budget);
        var compounds = new IdSet();
        var files = new List<FileStats>(3);
        var rejectedUsers = new Dictionary<int, long>();

        long nextProgress = 0;
        CsvRecordReader? ticking = null;
        void Tick(CsvRecordReader records, long loaded)
        {
            if (!ReferenceEquals(records, ticking))
            {
                (ticking, nextProgress) = (records, ProgressInterval);
            }
            if (records.RecordsRead < nextProgress)
            {
                return;
            }
            nextProgress = records.RecordsRead + ProgressInterval;
            cancellationToken.ThrowIfCancellationRequested();
            onProgress?.Invoke([.. files, Stats(records, loaded, errors)]);
        }

        var usersReadable = ReadFile(source, CsvSchema.Users, errors, files, load.OpenUsers, static row => row, (records, writer) =>
        {
            var reader = new UserCsvReader(records) { Rejected = (id, line) => rejectedUsers.TryAdd(id, line) };
            long loaded = 0;
            while (reader.TryRead(out var row))
            {
                if (!features.AddUser(row))
                {
                    records.FieldError(0, $"user_id {row.UserId} appears more than once; ids must be unique");
                }
                else if (!errors.HasErrors)
                {
                    writer.Write(row);
                    loaded++;
                }
                Tick(records, loaded);
            }
            return loaded;
        }, cancellationToken);

        var compoundsReadable = ReadFile(source, CsvSchema.Compounds, errors, files, load.OpenCompounds, static row => row, (records, writer) =>
        {
            var reader = new CompoundCsvReader(records);
            long loaded = 0;
            while (reader.TryRead(out var row))
            {
                if (!compounds.Add(row.CompoundId))
                {
                    records.FieldError(0, $"compound_id {row.CompoundId} appears more than once; ids must be unique");
                }
                else if (!errors.HasErrors)
                {
                    writer.Write(row);
                    loaded++;
                }
                Tick(records, loaded);
            }
            return loaded;
        }, cancellationToken);

        // The reader reuses its compound id arrays; a row queued for the database needs its own. It is stored ascending,
        // so that two exports listing the same compounds in another order store the same row (and compare equal).
        ReadFile(source, CsvSchema.Experiments, errors, files, load.OpenExperiments, static row => row with { CompoundIds = Ascending(row.CompoundIds) }, (records, writer) =>
        {
            var reader = new ExperimentCsvReader(records);
            var experiments = new IdSet();
            features.StartExperiments(compounds.Max);
            long loaded = 0;
            while (reader.TryRead(out var row))
            {
                var valid = true;
                if (!experiments.Add(row.ExperimentId))
                {
                    records.FieldError(0, $"experiment_id {row.ExperimentId} appears more than once; ids must be unique");
                    valid = false;
                }
                // A file that could not be read at all is reported once, not once per experiment that points into it.
                if (usersReadable && !features.HasUser(row.UserId))
                {
                    records.FieldError(1, rejectedUsers.TryGetValue(row.UserId, out var userLine)
                        ? $"user_id {row.UserId} is the invalid user on line {userLine} of {CsvSchema.Users.FileName}, so this experiment is rejected too"
                        : $"user_id {row.UserId} does not match a valid user in {CsvSchema.Users.FileName}");
                    valid = false;
                }
                if (compoundsReadable)
                {
                    foreach (var compoundId in row.CompoundIds)
                    {
                        if (!compounds.Contains(compoundId))
                        {
                            records.FieldError(ExperimentCsvReader.CompoundIdsColumn,
                                $"compound id {compoundId} does not match a valid compound in {CsvSchema.Compounds.FileName}");
                            valid = false;
                        }
                    }
                }
                if (valid && !errors.HasErrors)
                {
                    features.AddExperiment(row);
                    writer.Write(row);
                    loaded++;
                }
                Tick(records, loaded);
            }
            return loaded;
        }, cancellationToken);

        if (errors.HasErrors)
        {
            var failed = run with
            {
                Status = RunStatus.Failed,
                FinishedAt = clock.GetUtcNow(),
                Files = [.. files.Select(f => f with { RowsLoaded = 0 })], // Nothing of a failed run is loaded.
                ErrorCount = errors.Count,
                Errors = errors.Kept,
                RejectedCount = errors.RejectedCount,
                Message = $"The input has {errors.Count} error(s); nothing was loaded and the previous data is unchanged.",
            };
            return new RunOutcome(failed, errors.Kept);
        }

        cancellationToken.ThrowIfCancellationRequested();
        var succeeded = run with
        {
            Status = RunStatus.Succeeded,
            Files = files,
            RejectedCount = errors.RejectedCount,
            Message = errors.RejectedCount > 0 ? $"Loaded; {errors.RejectedCount} invalid row(s) were skipped (see /rejects)." : null,
        };
        DataSetFeatures built;
        using (EtlTelemetry.Source.StartActivity("etl.features"))
        {
            built = features.Build(compounds.Count);
        }
        using (EtlTelemetry.Source.StartActivity("etl.commit"))
        {
            return new RunOutcome(load.Commit(built, succeeded, errors.Rejects, clock, cancellationToken), []);
        }
    }

    static int[] Ascending(int[] compoundIds)
    {
        int[] copy = [.. compoundIds];
        Array.Sort(copy);
        return copy;
    }

    static FileStats Stats(CsvRecordReader records, long loaded, ErrorCollector errors) =>
        new(records.Schema.FileName, records.RecordsRead, loaded, errors.RejectedIn(records.Schema.FileName), records.BytesRead, records.BytesTotal);

    /// <summary>Opens one file and its table writer, runs <paramref name="body"/>, and records what was read.</summary>
    /// <returns>False when the file could not be read at all (missing, empty, unusable header).</returns>
    static bool ReadFile<TRow>(
        DataSetSource source,
        CsvSchema schema,
        ErrorCollector errors,
        List<FileStats> files,
        Func<IRowWriter<TRow>> openWriter,
        Func<TRow, TRow> own,
        Func<CsvRecordReader, IRowWriter<TRow>, long> body,
        CancellationToken cancellationToken)
    {
        using var span = EtlTelemetry.Source.StartActivity("etl.read_file");
        span?.SetTag("etl.file", schema.FileName);
        var stream = source.Open(schema.FileName);
        if (stream is null)
        {
            errors.Add(schema.FileName, 0, $"{schema.FileName} was not found");
            files.Add(new FileStats(schema.FileName, 0, 0, 0, 0, 0));
            return false;
        }
        var errorsBefore = errors.Count;
        CsvRecordReader opened;
        try
        {
            // Sep reads the first row while opening.
            opened = new CsvRecordReader(stream, schema, errors, cancellationToken);
        }
        catch (NotSupportedException e) when (CsvRecordReader.IsRowTooLong(e))
        {
            stream.Dispose();
            errors.Add(schema.FileName, 1, "a row is longer than 16 million characters: most likely a quote is never closed");
            files.Add(new FileStats(schema.FileName, 0, 0, 0, 0, 0));
            return false;
        }
        using var records = opened;
        // Once the run has failed, the load is never touched again: it will only be rolled back.
        using IRowWriter<TRow> writer = errors.HasErrors ? DiscardingWriter<TRow>.Instance : new BackgroundRowWriter<TRow>(openWriter(), own);
        var loaded = body(records, writer);
        if (errors.Mode == RunMode.Lenient && records.RecordsRead > 0 && loaded == 0 && !errors.HasErrors)
        {
            errors.Add(schema.FileName, 0, "every row was rejected: there is nothing to load (see the rejected rows for why)");
        }
        if (!errors.HasErrors)
        {
            writer.Complete();
        }
        var stats = Stats(records, loaded, errors);
        files.Add(stats);
        span?.SetTag("etl.rows.read", stats.RowsRead).SetTag("etl.rows.loaded", stats.RowsLoaded).SetTag("etl.bytes.read", stats.BytesRead);
        // Unreadable: no data row came through although the file produced errors (missing header column, empty, encoding).
        return !(records.RecordsRead == 0 && errors.Count > errorsBefore);
    }
}

sealed class DiscardingWriter<TRow> : IRowWriter<TRow>
{
    public static readonly DiscardingWriter<TRow> Instance = new();

    public void Write(in TRow row)
    {
    }

    public void Complete()
    {
    }

    public void Dispose()
    {
    }
}
