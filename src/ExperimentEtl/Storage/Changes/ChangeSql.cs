namespace ExperimentEtl.Storage.Changes;

/// <summary>
/// What the change's SQL needs to know about one load in one database: where the replaced data set's tables are and
/// where the new one's, and the few expressions the dialects spell differently. The statements are in
/// <see cref="ChangeRecorder"/>, written once.
/// </summary>
public abstract class ChangeSql
{
    /// <summary>The replaced data set's table, as the load's connection sees it.</summary>
    public abstract string Replaced(DataSetTable table);

    /// <summary>The loaded data set's table, as the load's connection sees it.</summary>
    public abstract string Loaded(DataSetTable table);

    /// <summary>A JSON object (as text) of the given keys and SQL expressions.</summary>
    public abstract string JsonObject(IEnumerable<(string Key, string Value)> fields);

    /// <summary>
    /// A table for the computation's intermediate rows, dropped before the commit. Not a temporary table on a server:
    /// that would leave a temporary schema on the pooled connection.
    /// </summary>
    public abstract string Scratch(string name);

    /// <summary>Creates <see cref="Scratch"/> from a query.</summary>
    public abstract string CreateScratch(string name, string query);

    /// <summary>Creates <see cref="Scratch"/> keyed by its one column, <c>id</c>, from a query of distinct ids: for lookups.</summary>
    public abstract string CreateIdScratch(string name, string query);

    /// <summary>A stored compound id list as a JSON array.</summary>
    public abstract string IdsJson(string column);

    /// <summary>
    /// A stored compound id list as the distinct ids ascending, the form loads store since change tracking: data sets
    /// loaded before it kept the listed order, so their lists are compared in this form.
    /// </summary>
    public abstract string SortedIds(string column);

    /// <summary>
    /// The experiments that differ, as (id, kind). By default one join by id; a database that cannot join the two data
    /// sets by experiment id overrides it (Citus, where experiments are distributed by user).
    /// </summary>
    public virtual string ExperimentsDiffering(string oldIds) => ChangeRecorder.Differing(this, DataSetTables.Experiments,
        "experiment_id", $"o.user_id <> n.user_id OR o.run_time <> n.run_time OR {oldIds} <> n.compound_ids");

    /// <summary>
    /// Whether loads keep the users' fingerprints in user_features. Not on Citus, where the workers derive the features
    /// from the loaded rows: its change joins the two data sets whole.
    /// </summary>
    public virtual bool KeepsFingerprints => true;

    /// <summary>A query with one row if the replaced data set's table has the column (a data set loaded by an earlier version may not).</summary>
    public abstract string ColumnExists(DataSetTable table, string column);

    /// <summary>
    /// Rows sent as parameters in one statement: a query of the given columns, named, and its parameter values
    /// (<c>$1</c>…), made from one array of values per column, each as long as the others.
    /// </summary>
    public abstract (string Query, object?[] Values) Rows(IReadOnlyList<DataSetColumn> columns, IReadOnlyList<Array> values);

    /// <summary>Creates <see cref="Scratch"/> empty, with the given columns.</summary>
    public abstract string CreateEmptyScratch(string name, IReadOnlyList<DataSetColumn> columns);

    /// <summary>
    /// Statements that make the next ones find rows by their keys rather than by scanning whole tables (for a change-only
    /// reload, which touches a few rows of large tables), and that undo it; null where the planner does so already.
    /// </summary>
    public virtual (string On, string Off)? PreferKeyLookups => null;

    /// <summary>Creates <see cref="Scratch"/> from a query, keyed by <paramref name="key"/>: for joins by id.</summary>
    public abstract string CreateKeyedScratch(string name, string query, string key);

    /// <summary>
    /// Statements that move the rows of <paramref name="table"/> matching <paramref name="where"/> into a new
    /// <see cref="Scratch"/> named <paramref name="name"/>: copied, then deleted; a database that can do both in one
    /// pass over the rows overrides it.
    /// </summary>
    public virtual string MoveAside(string table, string name, string where) =>
        $"{CreateScratch(name, $"SELECT * FROM {table} WHERE {where}")}; DELETE FROM {table} WHERE {where};";
}

/// <summary>The change's SQL on PostgreSQL: both data sets are generations, schemas side by side.</summary>
public class PostgresChangeSql(string oldSchema, string newSchema) : ChangeSql
{
    public override string Replaced(DataSetTable table) => $"{oldSchema}.{table.Name}";

    public override string Loaded(DataSetTable table) => $"{newSchema}.{table.Name}";

    public override string JsonObject(IEnumerable<(string Key, string Value)> fields) =>
        $"json_build_object({string.Join(", ", fields.Select(f => $"'{f.Key}', {f.Value}"))})::text";

    public override string IdsJson(string column) => column;

    public override string Scratch(string name) => $"{newSchema}.{name}";

    // Unlogged: the rows are needed for a few statements of this transaction only. Analysed: the next joins read them,
    // and without statistics PostgreSQL took 9,649 moved users for 45 and sized its hashes for a tenth of their rows.
    public override string CreateScratch(string name, string query) => $"CREATE UNLOGGED TABLE {Scratch(name)} AS {query}; ANALYZE {Scratch(name)}";

    public override string CreateIdScratch(string name, string query) =>
        $"CREATE UNLOGGED TABLE {Scratch(name)} (id integer PRIMARY KEY); INSERT INTO {Scratch(name)} {query}; ANALYZE {Scratch(name)}";

    public override string SortedIds(string column) => $"(SELECT array_agg(DISTINCT x ORDER BY x) FROM unnest({column}) AS x)";

    public override string ColumnExists(DataSetTable table, string column) =>
        $"SELECT 1 FROM pg_attribute WHERE attrelid = '{Replaced(table)}'::regclass AND attname = '{column}' AND NOT attisdropped";

    // Hashing the few touched ids and scanning the 10M experiments for them took 2.2 s to keep the old rows aside and
    // 6.3 s to delete them at L (1 % edited). Only for those statements: the change's joins of unkeyed scratch tables
    // need their hashes (without, one ran for minutes).
    public override (string On, string Off)? PreferKeyLookups =>
        ("SET LOCAL enable_hashjoin = off; SET LOCAL enable_mergejoin = off", "SET LOCAL enable_hashjoin = on; SET LOCAL enable_mergejoin = on");

    // One pass: each row is read once, deleted and copied (reading the 154k touched experiments of L in random order
    // took 2 s, and deleting them as much again).
    public override string MoveAside(string table, string name, string where) =>
        $"CREATE UNLOGGED TABLE {Scratch(name)} (LIKE {table}); WITH moved AS (DELETE FROM {table} WHERE {where} RETURNING *) INSERT INTO {Scratch(name)} SELECT * FROM moved; ANALYZE {Scratch(name)}";

    public override string CreateKeyedScratch(string name, string query, string key) =>
        $"CREATE UNLOGGED TABLE {Scratch(name)} AS {query}; ALTER TABLE {Scratch(name)} ADD PRIMARY KEY ({key}); ANALYZE {Scratch(name)}";

    public override string CreateEmptyScratch(string name, IReadOnlyList<DataSetColumn> columns) =>
        $"CREATE UNLOGGED TABLE {Scratch(name)} ({string.Join(", ", columns.Select(c => $"{c.Name} {Postgres.PgSchema.TypeOf(c.Type)}"))})";

    // One array parameter per column, unnested side by side.
    public override (string Query, object?[] Values) Rows(IReadOnlyList<DataSetColumn> columns, IReadOnlyList<Array> values) => (
        $"SELECT * FROM unnest({string.Join(", ", columns.Select((c, i) => $"${i + 1}::{Postgres.PgSchema.TypeOf(c.Type)}[]"))}) AS r ({string.Join(", ", columns.Select(c => c.Name))})",
        [.. values]);
}

/// <summary>The change's SQL on SQLite: the load renames the replaced data set's tables to <c>prev_*</c> and drops them at its commit.</summary>
public sealed class SqliteChangeSql : ChangeSql
{
    public const string OldPrefix = "prev_";

    public override string Replaced(DataSetTable table) => OldPrefix + table.Name;

    public override string Loaded(DataSetTable table) => table.Name;

    public override string JsonObject(IEnumerable<(string Key, string Value)> fields) =>
        $"json_object({string.Join(", ", fields.Select(f => $"'{f.Key}', {f.Value}"))})";

    public override string IdsJson(string column) => $"json('[' || replace({column}, ';', ',') || ']')";

    public override string Scratch(string name) => $"temp.{name}";

    public override string CreateScratch(string name, string query) => $"CREATE TEMP TABLE {name} AS {query}";

    public override string CreateIdScratch(string name, string query) => $"CREATE TEMP TABLE {name} (id INTEGER PRIMARY KEY); INSERT INTO {Scratch(name)} {query};";

    public override string SortedIds(string column) =>
        $"(SELECT group_concat(v, ';') FROM (SELECT DISTINCT CAST(value AS INTEGER) AS v FROM json_each('[' || replace({column}, ';', ',') || ']') ORDER BY v))";

    public override string ColumnExists(DataSetTable table, string column) => $"SELECT 1 FROM pragma_table_info('{Replaced(table)}') WHERE name = '{column}'";

    public override string CreateKeyedScratch(string name, string query, string key) =>
        $"CREATE TEMP TABLE {name} AS {query}; CREATE UNIQUE INDEX temp.{name}_key ON {name} ({key})";

    public override string CreateEmptyScratch(string name, IReadOnlyList<DataSetColumn> columns) =>
        $"CREATE TEMP TABLE {name} ({string.Join(", ", columns.Select(c => $"{c.Name} {Sqlite.SqliteSchema.TypeOf(c.Type)}"))})";

    // One JSON text of row arrays: SQLite has no array parameters, and its JSON functions read the rows in one pass.
    public override (string Query, object?[] Values) Rows(IReadOnlyList<DataSetColumn> columns, IReadOnlyList<Array> values)
    {
        var json = new System.Text.StringBuilder("[");
        var rows = values.Count == 0 ? 0 : values[0].Length;
        for (var row = 0; row < rows; row++)
        {
            json.Append(row == 0 ? "[" : ",[");
            for (var column = 0; column < values.Count; column++)
            {
                json.Append(column == 0 ? "" : ",").Append(values[column].GetValue(row) switch
                {
                    null => "null",
                    string text => System.Text.Json.JsonSerializer.Serialize(text),
                    IFormattable number => number.ToString(null, System.Globalization.CultureInfo.InvariantCulture),
                    var other => throw new ArgumentException($"No JSON form for {other.GetType()}", nameof(values)),
                });
            }
            json.Append(']');
        }
        json.Append(']');
        return ($"SELECT {string.Join(", ", columns.Select((c, i) => $"json_extract(value, '$[{i}]') AS {c.Name}"))} FROM json_each($1)", [json.ToString()]);
    }
}
