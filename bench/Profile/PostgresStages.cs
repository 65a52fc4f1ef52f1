using System.Threading.Channels;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using Npgsql;
using NpgsqlTypes;

namespace ExperimentEtl.Bench.Profile;

/// <param name="KeysBeforeCopy">Create the primary keys with the tables (ids arrive in ascending order) instead of after the copy.</param>
/// <param name="KeysAfterCopy">Add the primary keys after the copy, as the service does.</param>
/// <param name="UserIndex">Build experiments(user_id)'s index after the copy, as the service did until 844ac02.</param>
/// <param name="MaintenanceWorkMem">SET LOCAL maintenance_work_mem for the load (the memory an index build sorts in); null keeps the server's.</param>
sealed record PostgresVariant(string Name, bool KeysBeforeCopy, bool KeysAfterCopy, bool UserIndex, string? MaintenanceWorkMem = null);

/// <summary>
/// The PostgreSQL load on rows already in memory (the database's share of a run), and parse + COPY of the experiments
/// file in one thread or on two. Tables are bench_p_*, created and dropped in the given database.
/// </summary>
static class PostgresStages
{
    public static readonly PostgresVariant[] Variants =
    [
        new("pg: as f584192", false, true, true),
        new("pg: keys after, no index", false, true, false),
        new("pg: keys before copy", true, false, false),
        new("pg: no keys (typed floor)", false, false, false),
        new("pg: as f584192, mwm 512MB", false, true, true, "512MB"),
        new("pg: keys after, mwm 512MB", false, true, false, "512MB"),
    ];

    static readonly (string Name, string Columns, string Key)[] Tables =
    [
        ("bench_p_users", "user_id integer NOT NULL, name text NOT NULL, email text NOT NULL, signup_date date NOT NULL", "user_id"),
        ("bench_p_compounds", "compound_id integer NOT NULL, name text NOT NULL, structure text NOT NULL", "compound_id"),
        ("bench_p_experiments", "experiment_id integer NOT NULL, user_id integer NOT NULL, compound_ids integer[] NOT NULL, run_time integer NOT NULL", "experiment_id"),
        ("bench_p_user_features", "user_id integer NOT NULL, experiment_count integer NOT NULL, fav_compound_id integer", "user_id"),
    ];

    /// <summary>Accepts a postgres:// URL (as DATABASE_URL does) or an Npgsql connection string.</summary>
    public static string ConnectionString(string url)
    {
        if (!url.StartsWith("postgres", StringComparison.OrdinalIgnoreCase) || !url.Contains("://", StringComparison.Ordinal))
        {
            return url;
        }
        var uri = new Uri(url);
        var credentials = uri.UserInfo.Split(':', 2);
        return new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = uri.AbsolutePath.Trim('/') is { Length: > 0 } database ? Uri.UnescapeDataString(database) : "postgres",
            Username = Uri.UnescapeDataString(credentials[0]),
            Password = credentials.Length > 1 ? Uri.UnescapeDataString(credentials[1]) : null,
            CommandTimeout = 0,
        }.ConnectionString;
    }

    public static string Load(Loaded data, DataSetFeatures features, string connectionString, PostgresVariant variant)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        Execute(connection, null, "CHECKPOINT");
        var steps = new Steps();
        using (var transaction = connection.BeginTransaction())
        {
            if (variant.MaintenanceWorkMem is { } memory)
            {
                Execute(connection, transaction, $"SET LOCAL maintenance_work_mem = '{memory}'");
            }
            foreach (var (name, columns, key) in Tables)
            {
                Execute(connection, transaction, $"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns}{(variant.KeysBeforeCopy ? $", PRIMARY KEY ({key})" : "")})");
            }
            steps.Mark("create");
            using (var importer = connection.BeginBinaryImport("COPY bench_p_users (user_id, name, email, signup_date) FROM STDIN (FORMAT BINARY)"))
            {
                foreach (var row in data.Users)
                {
                    importer.StartRow();
                    importer.Write(row.UserId, NpgsqlDbType.Integer);
                    importer.Write(row.Name, NpgsqlDbType.Text);
                    importer.Write(row.Email, NpgsqlDbType.Text);
                    importer.Write(row.SignupDate, NpgsqlDbType.Date);
                }
                importer.Complete();
            }
            using (var importer = connection.BeginBinaryImport("COPY bench_p_compounds (compound_id, name, structure) FROM STDIN (FORMAT BINARY)"))
            {
                foreach (var row in data.Compounds)
                {
                    importer.StartRow();
                    importer.Write(row.CompoundId, NpgsqlDbType.Integer);
                    importer.Write(row.Name, NpgsqlDbType.Text);
                    importer.Write(row.Structure, NpgsqlDbType.Text);
                }
                importer.Complete();
            }
            steps.Mark("copy users+compounds");
            var exact = ExactArrays();
            using (var importer = connection.BeginBinaryImport("COPY bench_p_experiments (experiment_id, user_id, compound_ids, run_time) FROM STDIN (FORMAT BINARY)"))
            {
                for (var i = 0; i < data.ExperimentCount; i++)
                {
                    importer.StartRow();
                    importer.Write(data.ExperimentIds[i], NpgsqlDbType.Integer);
                    importer.Write(data.ExperimentUsers[i], NpgsqlDbType.Integer);
                    importer.Write(Exact(exact, data.CompoundsOf(i)), NpgsqlDbType.Array | NpgsqlDbType.Integer);
                    importer.Write(data.RunTimes[i], NpgsqlDbType.Integer);
                }
                importer.Complete();
            }
            steps.Mark("copy experiments");
            using (var importer = connection.BeginBinaryImport("COPY bench_p_user_features (user_id, experiment_count, fav_compound_id) FROM STDIN (FORMAT BINARY)"))
            {
                foreach (var f in features.Users)
                {
                    importer.StartRow();
                    importer.Write(f.UserId, NpgsqlDbType.Integer);
                    importer.Write(f.ExperimentCount, NpgsqlDbType.Integer);
                    if (f.FavoriteCompoundId is { } favourite)
                    {
                        importer.Write(favourite, NpgsqlDbType.Integer);
                    }
                    else
                    {
                        importer.WriteNull();
                    }
                }
                importer.Complete();
            }
            steps.Mark("copy features");
            if (variant.KeysAfterCopy)
            {
                foreach (var (name, _, key) in Tables)
                {
                    Execute(connection, transaction, $"ALTER TABLE {name} ADD PRIMARY KEY ({key})");
                    steps.Mark($"pk {name["bench_p_".Length..]}");
                }
            }
            if (variant.UserIndex)
            {
                Execute(connection, transaction, "CREATE INDEX ON bench_p_experiments (user_id)");
                steps.Mark("index user_id");
            }
            transaction.Commit();
            steps.Mark("commit");
        }
        Drop(connectionString);
        return steps.ToString();
    }

    /// <summary>
    /// The floor as bench/run.sh measures it (psql's \copy of each file, line by line, into one-column text tables,
    /// in one transaction), so that the variants above can be compared with a floor taken on the same server at the same time.
    /// </summary>
    public static string TextFloor(Input input, string url)
    {
        var script = Path.GetTempFileName();
        try
        {
            var lines = new List<string>();
            foreach (var (table, path) in new[] { ("bench_p_raw_users", input.Users), ("bench_p_raw_compounds", input.Compounds), ("bench_p_raw_experiments", input.Experiments) })
            {
                lines.Add($"CREATE TABLE {table} (line text);");
                lines.Add($"\\copy {table} FROM '{path}' WITH (FORMAT text, DELIMITER E'\\x01')");
            }
            File.WriteAllLines(script, lines);
            Psql(url, "-c", "DROP TABLE IF EXISTS bench_p_raw_users, bench_p_raw_compounds, bench_p_raw_experiments", "-c", "CHECKPOINT");
            var stopwatch = System.Diagnostics.Stopwatch.StartNew();
            Psql(url, "-1", "-f", script);
            var seconds = stopwatch.Elapsed.TotalSeconds;
            Psql(url, "-c", "DROP TABLE IF EXISTS bench_p_raw_users, bench_p_raw_compounds, bench_p_raw_experiments");
            return Measure.Format($"psql -1 with 3 \\copy: {seconds:F3} s");
        }
        finally
        {
            File.Delete(script);
        }
    }

    static void Psql(string url, params string[] arguments)
    {
        var start = new System.Diagnostics.ProcessStartInfo("psql") { RedirectStandardError = true };
        foreach (var argument in (string[])["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, .. arguments])
        {
            start.ArgumentList.Add(argument);
        }
        start.Environment["PGOPTIONS"] = "-c client_min_messages=warning";
        using var process = System.Diagnostics.Process.Start(start)!;
        var errors = process.StandardError.ReadToEnd();
        if (!process.WaitForExit(TimeSpan.FromMinutes(30)) || process.ExitCode != 0)
        {
            throw new InvalidOperationException($"psql failed: {errors}");
        }
    }

    /// <summary>
    /// Reads user_experiments.csv with the project's typed reader, counts the features, and COPYs the rows: in one
    /// thread (as the service does today), or with the reading on one thread and the COPY on another, joined by a
    /// bounded channel of row batches.
    /// </summary>
    public static string ParseAndCopy(Input input, IEnumerable<int> userIds, string connectionString, bool twoThreads)
    {
        using var features = new FeatureAccumulator();
        foreach (var id in userIds)
        {
            features.AddUser(id);
        }
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        Execute(connection, null, "CHECKPOINT");
        var steps = new Steps();
        long rows = 0;
        using (var transaction = connection.BeginTransaction())
        {
            var (name, columns, _) = Tables[2];
            Execute(connection, transaction, $"DROP TABLE IF EXISTS {name}; CREATE TABLE {name} ({columns})");
            using (var importer = connection.BeginBinaryImport("COPY bench_p_experiments (experiment_id, user_id, compound_ids, run_time) FROM STDIN (FORMAT BINARY)"))
            {
                if (twoThreads)
                {
                    rows = CopyOnTwoThreads(input, features, importer);
                }
                else
                {
                    var errors = new ErrorCollector();
                    using var records = new CsvRecordReader(Input.Open(input.Experiments), CsvSchema.Experiments, errors);
                    var reader = new ExperimentCsvReader(records);
                    while (reader.TryRead(out var row))
                    {
                        features.AddExperiment(row.UserId, row.CompoundIds);
                        importer.StartRow();
                        importer.Write(row.ExperimentId, NpgsqlDbType.Integer);
                        importer.Write(row.UserId, NpgsqlDbType.Integer);
                        importer.Write(row.CompoundIds, NpgsqlDbType.Array | NpgsqlDbType.Integer);
                        importer.Write(row.RunTime, NpgsqlDbType.Integer);
                        rows++;
                    }
                }
                importer.Complete();
            }
            steps.Mark("parse+copy");
            transaction.Commit();
            steps.Mark("commit");
        }
        Drop(connectionString);
        return Measure.Format($"{rows:N0} experiments; {steps}");
    }

    sealed class Batch
    {
        public const int Size = 8192;
        public readonly int[] Ids = new int[Size], Users = new int[Size], RunTimes = new int[Size], Start = new int[Size + 1];
        public int[] Compounds = new int[Size * 4];
        public int Count;
    }

    static long CopyOnTwoThreads(Input input, FeatureAccumulator features, NpgsqlBinaryImporter importer)
    {
        var full = Channel.CreateBounded<Batch>(new BoundedChannelOptions(4) { SingleReader = true, SingleWriter = true });
        var empty = Channel.CreateUnbounded<Batch>();
        for (var i = 0; i < 6; i++)
        {
            empty.Writer.TryWrite(new Batch());
        }
        var producer = Task.Run(async () =>
        {
            try
            {
                var errors = new ErrorCollector();
                using var records = new CsvRecordReader(Input.Open(input.Experiments), CsvSchema.Experiments, errors);
                var reader = new ExperimentCsvReader(records);
                var batch = await empty.Reader.ReadAsync();
                batch.Count = 0;
                while (reader.TryRead(out var row))
                {
                    features.AddExperiment(row.UserId, row.CompoundIds);
                    var n = batch.Count;
                    batch.Ids[n] = row.ExperimentId;
                    batch.Users[n] = row.UserId;
                    batch.RunTimes[n] = row.RunTime;
                    var start = batch.Start[n];
                    if (start + row.CompoundIds.Length > batch.Compounds.Length)
                    {
                        Array.Resize(ref batch.Compounds, batch.Compounds.Length * 2);
                    }
                    row.CompoundIds.CopyTo(batch.Compounds, start);
                    batch.Start[n + 1] = start + row.CompoundIds.Length;
                    if (++batch.Count == Batch.Size)
                    {
                        await full.Writer.WriteAsync(batch);
                        batch = await empty.Reader.ReadAsync();
                        batch.Count = 0;
                    }
                }
                if (batch.Count > 0)
                {
                    await full.Writer.WriteAsync(batch);
                }
                full.Writer.Complete();
            }
            catch (Exception e)
            {
                full.Writer.Complete(e);
            }
        });

        long rows = 0;
        var exact = ExactArrays();
        while (full.Reader.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
        {
            while (full.Reader.TryRead(out var batch))
            {
                for (var i = 0; i < batch.Count; i++)
                {
                    importer.StartRow();
                    importer.Write(batch.Ids[i], NpgsqlDbType.Integer);
                    importer.Write(batch.Users[i], NpgsqlDbType.Integer);
                    importer.Write(Exact(exact, batch.Compounds.AsSpan(batch.Start[i], batch.Start[i + 1] - batch.Start[i])),
                        NpgsqlDbType.Array | NpgsqlDbType.Integer);
                    importer.Write(batch.RunTimes[i], NpgsqlDbType.Integer);
                }
                rows += batch.Count;
                empty.Writer.TryWrite(batch);
            }
        }
        producer.GetAwaiter().GetResult();
        return rows;
    }

    static int[][] ExactArrays() => [.. Enumerable.Range(0, 17).Select(n => new int[n])];

    /// <summary>An exact-length array for the COPY of an int[] column, reused per length as ExperimentCsvReader does.</summary>
    static int[] Exact(int[][] cache, ReadOnlySpan<int> ids)
    {
        var array = ids.Length < cache.Length ? cache[ids.Length] : new int[ids.Length];
        ids.CopyTo(array);
        return array;
    }

    static void Drop(string connectionString)
    {
        using var connection = new NpgsqlConnection(connectionString);
        connection.Open();
        Execute(connection, null, string.Join(";", Tables.Select(t => $"DROP TABLE IF EXISTS {t.Name}")));
    }

    static void Execute(NpgsqlConnection connection, NpgsqlTransaction? transaction, string sql)
    {
        using var command = new NpgsqlCommand(sql, connection, transaction);
        command.ExecuteNonQuery();
    }
}
