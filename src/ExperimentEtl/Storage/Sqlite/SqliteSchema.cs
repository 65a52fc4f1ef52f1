namespace ExperimentEtl.Storage.Sqlite;

/// <summary>The data set's tables (<see cref="DataSetTables"/>) and the fixed tables, in SQLite's dialect.</summary>
static class SqliteSchema
{
    /// <summary>Runs and their rejected rows (what loads changed: <see cref="Changes.ChangeTables"/>).</summary>
    const string FixedTables = """
        CREATE TABLE IF NOT EXISTS runs (
            run_id TEXT PRIMARY KEY, status TEXT NOT NULL, mode TEXT NOT NULL, source TEXT NOT NULL,
            started_at TEXT NOT NULL, finished_at TEXT, updated_at TEXT NOT NULL,
            files TEXT NOT NULL, error_count INTEGER NOT NULL, errors TEXT NOT NULL, rejected_count INTEGER NOT NULL,
            message TEXT, cancel_requested INTEGER NOT NULL DEFAULT 0, applied TEXT);
        CREATE TABLE IF NOT EXISTS rejects (
            run_id TEXT NOT NULL, seq INTEGER NOT NULL, file TEXT NOT NULL, line INTEGER NOT NULL, raw TEXT NOT NULL, reason TEXT NOT NULL,
            PRIMARY KEY (run_id, seq)) WITHOUT ROWID;
        """;

    /// <summary>Every table, created where missing.</summary>
    public static string CreateAll => string.Concat(DataSetTables.All.Select(CreateTable)) + FixedTables +
        string.Concat(Changes.ChangeTables.All.Select(CreateTable));

    /// <summary>The names of every table, the data set's and the fixed ones.</summary>
    public static IReadOnlyList<string> TableNames { get; } =
        [.. DataSetTables.All.Select(t => t.Name), "runs", "rejects", .. Changes.ChangeTables.All.Select(t => t.Name)];

    // Dates, timestamps and uuids are ISO text; a list of integers is "1;2".
    public static string TypeOf(ColumnType type) => type switch
    {
        ColumnType.WholeNumber or ColumnType.LargeWholeNumber => "INTEGER",
        ColumnType.Text or ColumnType.Date or ColumnType.WholeNumberList or ColumnType.Uuid or ColumnType.Timestamp => "TEXT",
        _ => throw new ArgumentOutOfRangeException(nameof(type), type, null),
    };

    /// <remarks>
    /// A key of one integer column is the rowid itself (<c>INTEGER PRIMARY KEY</c>, which is never null); any other key
    /// makes a <c>WITHOUT ROWID</c> table, so that the rows are stored once, in the key's order, not beside a rowid.
    /// </remarks>
    public static string CreateTable(DataSetTable table)
    {
        var rowid = table.Key.Count == 1 && table.Columns.Single(c => c.Name == table.Key[0]).Type is ColumnType.WholeNumber or ColumnType.LargeWholeNumber;
        var columns = table.Columns.Select(c =>
            rowid && c.Name == table.Key[0] ? $"{c.Name} INTEGER PRIMARY KEY" : $"{c.Name} {TypeOf(c.Type)}{(c.Nullable ? "" : " NOT NULL")}");
        var constraints = new List<string>();
        if (!rowid)
        {
            constraints.Add($"PRIMARY KEY ({string.Join(", ", table.Key)})");
        }
        if (table.Check is { } check)
        {
            constraints.Add(check);
        }
        return $"CREATE TABLE IF NOT EXISTS {table.Name} ({string.Join(", ", columns.Concat(constraints))}){(rowid ? "" : " WITHOUT ROWID")};\n";
    }
}
