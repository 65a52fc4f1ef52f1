namespace ExperimentEtl.Storage.Postgres;

/// <summary>The data set's tables (<see cref="DataSetTables"/>) and the fixed tables, in PostgreSQL's dialect.</summary>
static class PgSchema
{
    /// <summary>Runs and their rejected rows: plain tables in the database's own schema, outside any generation.</summary>
    /// <summary>Runs, their rejected rows, and what each load changed (<see cref="Changes.ChangeTables"/>).</summary>
    public static string FixedTables { get; } = RunTables + string.Concat(Changes.ChangeTables.All.Select(CreateFixedTable));

    const string RunTables = """
        CREATE TABLE IF NOT EXISTS runs (
            run_id uuid PRIMARY KEY, status text NOT NULL, mode text NOT NULL, source text NOT NULL,
            started_at timestamptz NOT NULL, finished_at timestamptz, updated_at timestamptz NOT NULL,
            files jsonb NOT NULL, error_count bigint NOT NULL, errors jsonb NOT NULL, rejected_count bigint NOT NULL,
            message text, cancel_requested boolean NOT NULL DEFAULT false, applied jsonb);
        ALTER TABLE runs ADD COLUMN IF NOT EXISTS applied jsonb;
        CREATE TABLE IF NOT EXISTS rejects (
            run_id uuid NOT NULL, seq bigint NOT NULL, file text NOT NULL, line bigint NOT NULL, raw text NOT NULL, reason text NOT NULL,
            PRIMARY KEY (run_id, seq));
        """;

    public static string TypeOf(ColumnType type) => type switch
    {
        ColumnType.WholeNumber => "integer",
        ColumnType.LargeWholeNumber => "bigint",
        ColumnType.Text => "text",
        ColumnType.Date => "date",
        ColumnType.WholeNumberList => "integer[]",
        ColumnType.Uuid => "uuid",
        ColumnType.Timestamp => "timestamptz",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <summary>
    /// The storage options of a data set's table that change-only reloads change in place: autovacuum reclaims the rows
    /// they delete once 2 % of a table is dead (PostgreSQL's default, 20 %, let a table grow by a fifth first: about a
    /// dozen reloads of 1 %). Measured in docs/benchmarks.md.
    /// </summary>
    public const string PatchedTableOptions = "autovacuum_vacuum_scale_factor = 0.02";

    /// <summary>The table in <paramref name="schema"/>, without its key (added once the rows are in) unless <paramref name="withKey"/>.</summary>
    /// <param name="options">Storage parameters, as in <c>WITH (...)</c>.</param>
    public static string CreateTable(string schema, DataSetTable table, bool withKey = false, string? options = null)
    {
        var columns = table.Columns.Select(c => $"{c.Name} {TypeOf(c.Type)}{(c.Nullable ? "" : " NOT NULL")}");
        var constraints = new List<string>();
        if (withKey)
        {
            constraints.Add(PrimaryKey(table, table.Key));
        }
        if (table.Check is { } check)
        {
            constraints.Add(check);
        }
        return $"CREATE TABLE {schema}.{table.Name} ({string.Join(", ", columns.Concat(constraints))}){(options is null ? "" : $" WITH ({options})")};";
    }

    /// <summary>A table outside the generations, created where missing, with its key.</summary>
    public static string CreateFixedTable(DataSetTable table) =>
        $"CREATE TABLE IF NOT EXISTS {table.Name} ({string.Join(", ", table.Columns.Select(c => $"{c.Name} {TypeOf(c.Type)}{(c.Nullable ? "" : " NOT NULL")}"))}, PRIMARY KEY ({string.Join(", ", table.Key)}));\n";

    public static string AddKey(string schema, DataSetTable table, IReadOnlyList<string> key) =>
        $"ALTER TABLE {schema}.{table.Name} ADD {PrimaryKey(table, key)};";

    static string PrimaryKey(DataSetTable table, IReadOnlyList<string> key) =>
        $"CONSTRAINT {table.Name}_pkey PRIMARY KEY ({string.Join(", ", key)})";
}
