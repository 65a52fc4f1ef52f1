namespace ExperimentEtl.Storage;

/// <summary>A column's value kind, rendered by each database's own type.</summary>
public enum ColumnType
{
    /// <summary>32-bit.</summary>
    WholeNumber,
    /// <summary>64-bit.</summary>
    LargeWholeNumber,
    Text,
    Date,
    /// <summary>A list of integers: an array on PostgreSQL, <c>1;2</c> text on SQLite.</summary>
    WholeNumberList,
    Uuid,
    Timestamp,
}

public sealed record DataSetColumn(string Name, ColumnType Type, bool Nullable = false);

/// <summary>One table of a data set.</summary>
/// <param name="Key">The primary key's columns.</param>
/// <param name="DistributedBy">
/// On Citus, the distribution column; null for a reference table (small, wanted by every join), or for the record,
/// which stays on the coordinator.
/// </param>
/// <param name="Loaded">Written from the files (true) or derived from them (false).</param>
/// <param name="Check">A table constraint, if any.</param>
public sealed record DataSetTable(string Name, IReadOnlyList<DataSetColumn> Columns, IReadOnlyList<string> Key, string? DistributedBy, bool Loaded, string? Check = null)
{
    /// <summary>The column names, comma-separated, in declaration order.</summary>
    public string ColumnList => string.Join(", ", Columns.Select(c => c.Name));
}

/// <summary>
/// The tables that hold one data set, declared once: every store renders them in its own dialect, and a test checks
/// each backend's catalog against this list.
/// </summary>
public static class DataSetTables
{
    public static readonly DataSetTable Users = new("users",
        [new("user_id", ColumnType.WholeNumber), new("name", ColumnType.Text), new("email", ColumnType.Text), new("signup_date", ColumnType.Date)],
        ["user_id"], "user_id", Loaded: true);

    public static readonly DataSetTable Compounds = new("compounds",
        [new("compound_id", ColumnType.WholeNumber), new("name", ColumnType.Text), new("structure", ColumnType.Text)],
        ["compound_id"], null, Loaded: true);

    // No index on user_id: nothing reads experiments by user, and building it took 8 s of a 10M-row load.
    public static readonly DataSetTable Experiments = new("experiments",
        [new("experiment_id", ColumnType.WholeNumber), new("user_id", ColumnType.WholeNumber), new("compound_ids", ColumnType.WholeNumberList), new("run_time", ColumnType.WholeNumber)],
        ["experiment_id"], "user_id", Loaded: true);

    // The favourite's name is copied here so that the report reads two tables, not three: at 1M users the join with
    // compounds took more than half of the report's query time on PostgreSQL.
    // The fingerprints (Pipeline/RowFingerprints.cs) let the next load's change compare only the users whose rows moved;
    // null on Citus, which derives the features on the workers and compares by joining.
    public static readonly DataSetTable UserFeatures = new("user_features",
        [new("user_id", ColumnType.WholeNumber), new("experiment_count", ColumnType.WholeNumber), new("fav_compound_id", ColumnType.WholeNumber, Nullable: true),
         new("fav_compound_name", ColumnType.Text, Nullable: true),
         new("row_fingerprint", ColumnType.LargeWholeNumber, Nullable: true), new("experiments_fingerprint", ColumnType.LargeWholeNumber, Nullable: true)],
        ["user_id"], "user_id", Loaded: false);

    public static readonly DataSetTable UserFavorites = new("user_favorites",
        [new("user_id", ColumnType.WholeNumber), new("compound_id", ColumnType.WholeNumber), new("experiments", ColumnType.WholeNumber)],
        ["user_id", "compound_id"], "user_id", Loaded: false);

    public static readonly DataSetTable CompoundFeatures = new("compound_features",
        [new("compound_id", ColumnType.WholeNumber), new("experiments", ColumnType.LargeWholeNumber), new("users", ColumnType.WholeNumber)],
        ["compound_id"], null, Loaded: false);

    /// <summary>The data set's record: one row, written with the data and read with it.</summary>
    public static readonly DataSetTable DataSet = new("dataset",
        [new("id", ColumnType.WholeNumber), new("run_id", ColumnType.Uuid, Nullable: true), new("loaded_at", ColumnType.Timestamp),
         new("users", ColumnType.LargeWholeNumber), new("experiments", ColumnType.LargeWholeNumber), new("compounds", ColumnType.LargeWholeNumber), new("active_users", ColumnType.LargeWholeNumber)],
        ["id"], null, Loaded: false, Check: "CHECK (id = 1)");

    /// <summary>Every table of a data set, the loaded ones first in the order a load writes them.</summary>
    public static readonly IReadOnlyList<DataSetTable> All = [Users, Compounds, Experiments, UserFeatures, UserFavorites, CompoundFeatures, DataSet];

    /// <summary>The derived tables that a load writes after the loaded ones (the record excepted).</summary>
    public static readonly IReadOnlyList<DataSetTable> Features = [UserFeatures, UserFavorites, CompoundFeatures];
}
