using System.Globalization;
using System.Text;
using ExperimentEtl.Model;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace ExperimentEtl.Bench.Profile;

/// <summary>How the rows are written into the SQLite file.</summary>
/// <param name="IndexAfterLoad">Create experiments(user_id)'s index after the rows are in, not before.</param>
/// <param name="CacheMegabytes">PRAGMA cache_size; 0 keeps SQLite's default (2 MB).</param>
/// <param name="Raw">Bind with SQLitePCL directly (sqlite3_bind_int, step, reset) instead of SqliteParameter.Value.</param>
/// <param name="InlineCompounds">Store an experiment's compound ids in its own row ('1;2;3') instead of experiment_compounds.</param>
/// <param name="UserIndex">Have the experiments(user_id) index at all.</param>
sealed record SqliteVariant(string Name, bool IndexAfterLoad, int CacheMegabytes, bool Raw, bool InlineCompounds, bool UserIndex = true);

/// <summary>
/// The SQLite load on rows already in memory: the database's share of a run. The first variant copies what
/// SqliteEtlStore did at f584192 (schema, WAL + synchronous=NORMAL, one transaction of prepared inserts with boxed
/// parameter values, a row per (experiment, compound), the user_id index); the others change one thing each.
/// The last one is close to what the store does since f99dfa7 (ids inline, no index), but with raw binds.
/// </summary>
static class SqliteStages
{
    public static readonly SqliteVariant[] Variants =
    [
        new("sqlite: as f584192", false, 0, false, false),
        new("sqlite: +index after, 256MB", true, 256, false, false),
        new("sqlite: +raw binds", true, 256, true, false),
        new("sqlite: +ids inline", true, 256, true, true),
        new("sqlite: ADO, ids inline, no index", true, 0, false, true, false),
        new("sqlite: raw, ids inline, no index", true, 0, true, true, false),
    ];

    const string Schema = """
        CREATE TABLE users (user_id INTEGER PRIMARY KEY, name TEXT NOT NULL, email TEXT NOT NULL, signup_date TEXT NOT NULL);
        CREATE TABLE compounds (compound_id INTEGER PRIMARY KEY, name TEXT NOT NULL, structure TEXT NOT NULL);
        CREATE TABLE experiments (experiment_id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, run_time INTEGER NOT NULL, compound_ids TEXT);
        CREATE TABLE experiment_compounds (experiment_id INTEGER NOT NULL, compound_id INTEGER NOT NULL,
            PRIMARY KEY (experiment_id, compound_id)) WITHOUT ROWID;
        CREATE TABLE user_features (user_id INTEGER PRIMARY KEY, experiment_count INTEGER NOT NULL, fav_compound_id INTEGER);
        """;

    const string UserIndex = "CREATE INDEX experiments_user_id ON experiments (user_id);";

    public static string Load(Loaded data, DataSetFeatures features, string path, SqliteVariant variant)
    {
        foreach (var suffix in new[] { "", "-wal", "-shm" })
        {
            File.Delete(path + suffix);
        }
        var steps = new Steps();
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ConnectionString);
        connection.Open();
        Execute(connection, null, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
        if (variant.CacheMegabytes > 0)
        {
            Execute(connection, null, $"PRAGMA cache_size = -{variant.CacheMegabytes * 1024};");
        }
        Execute(connection, null, Schema + (variant.IndexAfterLoad || !variant.UserIndex ? "" : UserIndex));
        steps.Mark("schema");

        using (var transaction = connection.BeginTransaction(deferred: true))
        {
            if (variant.Raw)
            {
                WriteRaw(connection, data, variant.InlineCompounds, steps);
            }
            else
            {
                WriteAdo(connection, transaction, data, variant.InlineCompounds, steps);
            }
            using (var insert = Prepare(connection, transaction, "INSERT INTO user_features (user_id, experiment_count, fav_compound_id) VALUES ($1, $2, $3)", 3))
            {
                foreach (var f in features.Users)
                {
                    insert.Parameters[0].Value = f.UserId;
                    insert.Parameters[1].Value = f.ExperimentCount;
                    insert.Parameters[2].Value = (object?)f.FavoriteCompoundId ?? DBNull.Value;
                    insert.ExecuteNonQuery();
                }
            }
            steps.Mark("features");
            if (variant.IndexAfterLoad && variant.UserIndex)
            {
                Execute(connection, transaction, UserIndex);
                steps.Mark("index");
            }
            transaction.Commit();
            steps.Mark("commit");
        }
        var megabytes = new FileInfo(path).Length / 1e6;
        return Measure.Format($"{steps} | db {megabytes:F0} MB");
    }

    static void WriteAdo(SqliteConnection connection, SqliteTransaction transaction, Loaded data, bool inline, Steps steps)
    {
        using (var insert = Prepare(connection, transaction, "INSERT INTO users (user_id, name, email, signup_date) VALUES ($1, $2, $3, $4)", 4))
        {
            foreach (var row in data.Users)
            {
                insert.Parameters[0].Value = row.UserId;
                insert.Parameters[1].Value = row.Name;
                insert.Parameters[2].Value = row.Email;
                insert.Parameters[3].Value = row.SignupDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture);
                insert.ExecuteNonQuery();
            }
        }
        using (var insert = Prepare(connection, transaction, "INSERT INTO compounds (compound_id, name, structure) VALUES ($1, $2, $3)", 3))
        {
            foreach (var row in data.Compounds)
            {
                insert.Parameters[0].Value = row.CompoundId;
                insert.Parameters[1].Value = row.Name;
                insert.Parameters[2].Value = row.Structure;
                insert.ExecuteNonQuery();
            }
        }
        steps.Mark("users+compounds");
        using var experiments = Prepare(connection, transaction, "INSERT INTO experiments (experiment_id, user_id, run_time, compound_ids) VALUES ($1, $2, $3, $4)", 4);
        using var pairs = Prepare(connection, transaction, "INSERT INTO experiment_compounds (experiment_id, compound_id) VALUES ($1, $2)", 2);
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            experiments.Parameters[0].Value = data.ExperimentIds[i];
            experiments.Parameters[1].Value = data.ExperimentUsers[i];
            experiments.Parameters[2].Value = data.RunTimes[i];
            experiments.Parameters[3].Value = inline ? IdList(data.CompoundsOf(i)) : DBNull.Value;
            experiments.ExecuteNonQuery();
            if (!inline)
            {
                foreach (var compoundId in data.CompoundsOf(i))
                {
                    pairs.Parameters[0].Value = data.ExperimentIds[i];
                    pairs.Parameters[1].Value = compoundId;
                    pairs.ExecuteNonQuery();
                }
            }
        }
        steps.Mark("experiments");
    }

    static void WriteRaw(SqliteConnection connection, Loaded data, bool inline, Steps steps)
    {
        var db = connection.Handle!;
        using (var insert = new RawStatement(db, "INSERT INTO users (user_id, name, email, signup_date) VALUES (?1, ?2, ?3, ?4)"))
        {
            Span<byte> date = stackalloc byte[10];
            foreach (var row in data.Users)
            {
                raw.sqlite3_bind_int(insert.Handle, 1, row.UserId);
                raw.sqlite3_bind_text(insert.Handle, 2, row.Name);
                raw.sqlite3_bind_text(insert.Handle, 3, row.Email);
                row.SignupDate.TryFormat(date, out _, "yyyy-MM-dd", CultureInfo.InvariantCulture);
                raw.sqlite3_bind_text(insert.Handle, 4, date);
                insert.Step();
            }
        }
        using (var insert = new RawStatement(db, "INSERT INTO compounds (compound_id, name, structure) VALUES (?1, ?2, ?3)"))
        {
            foreach (var row in data.Compounds)
            {
                raw.sqlite3_bind_int(insert.Handle, 1, row.CompoundId);
                raw.sqlite3_bind_text(insert.Handle, 2, row.Name);
                raw.sqlite3_bind_text(insert.Handle, 3, row.Structure);
                insert.Step();
            }
        }
        steps.Mark("users+compounds");
        using var experiments = new RawStatement(db, "INSERT INTO experiments (experiment_id, user_id, run_time, compound_ids) VALUES (?1, ?2, ?3, ?4)");
        using var pairs = new RawStatement(db, "INSERT INTO experiment_compounds (experiment_id, compound_id) VALUES (?1, ?2)");
        Span<byte> list = stackalloc byte[4096];
        for (var i = 0; i < data.ExperimentCount; i++)
        {
            raw.sqlite3_bind_int(experiments.Handle, 1, data.ExperimentIds[i]);
            raw.sqlite3_bind_int(experiments.Handle, 2, data.ExperimentUsers[i]);
            raw.sqlite3_bind_int(experiments.Handle, 3, data.RunTimes[i]);
            if (inline)
            {
                raw.sqlite3_bind_text(experiments.Handle, 4, list[..IdList(data.CompoundsOf(i), list)]);
            }
            else
            {
                raw.sqlite3_bind_null(experiments.Handle, 4);
            }
            experiments.Step();
            if (!inline)
            {
                foreach (var compoundId in data.CompoundsOf(i))
                {
                    raw.sqlite3_bind_int(pairs.Handle, 1, data.ExperimentIds[i]);
                    raw.sqlite3_bind_int(pairs.Handle, 2, compoundId);
                    pairs.Step();
                }
            }
        }
        steps.Mark("experiments");
    }

    static string IdList(ReadOnlySpan<int> ids)
    {
        Span<byte> buffer = stackalloc byte[4096];
        return Encoding.ASCII.GetString(buffer[..IdList(ids, buffer)]);
    }

    static int IdList(ReadOnlySpan<int> ids, Span<byte> buffer)
    {
        var length = 0;
        for (var j = 0; j < ids.Length; j++)
        {
            if (j > 0)
            {
                buffer[length++] = (byte)';';
            }
            ids[j].TryFormat(buffer[length..], out var written, default, CultureInfo.InvariantCulture);
            length += written;
        }
        return length;
    }

    static SqliteCommand Prepare(SqliteConnection connection, SqliteTransaction transaction, string sql, int parameters)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        for (var i = 1; i <= parameters; i++)
        {
            command.Parameters.Add(new SqliteParameter { ParameterName = "$" + i.ToString(CultureInfo.InvariantCulture) });
        }
        command.Prepare();
        return command;
    }

    static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    sealed class RawStatement : IDisposable
    {
        public RawStatement(sqlite3 db, string sql)
        {
            Check(db, raw.sqlite3_prepare_v2(db, sql, out var statement));
            Handle = statement;
            Db = db;
        }

        public sqlite3_stmt Handle { get; }

        sqlite3 Db { get; }

        public void Step()
        {
            var result = raw.sqlite3_step(Handle);
            if (result != raw.SQLITE_DONE)
            {
                Check(Db, result);
            }
            raw.sqlite3_reset(Handle);
        }

        static void Check(sqlite3 db, int result)
        {
            if (result != raw.SQLITE_OK && result != raw.SQLITE_DONE)
            {
                throw new InvalidOperationException($"SQLite error {result}: {raw.sqlite3_errmsg(db).utf8_to_string()}");
            }
        }

        public void Dispose() => Handle.Dispose();
    }
}
