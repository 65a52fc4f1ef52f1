namespace ExperimentEtl.Storage.Changes;

/// <summary>
/// The tables that keep what loads changed, declared once and rendered by each store. They sit beside the runs, not in
/// a data set: the history outlives the data sets it describes. A load writes its rows in the transaction that
/// publishes its data set, so they become visible together.
/// </summary>
public static class ChangeTables
{
    static DataSetColumn Count(string name, bool nullable = false) => new(name, ColumnType.LargeWholeNumber, nullable);

    static IEnumerable<DataSetColumn> Counts(string table) =>
        ChangeKinds.Rows.Append("unchanged").Select(kind => Count($"{table}_{kind}"));

    /// <summary>One row per successful load, kept for good (a few hundred bytes a load).</summary>
    public static readonly DataSetTable History = new("load_history",
        [new("run_id", ColumnType.Uuid), new("previous_run_id", ColumnType.Uuid, Nullable: true), new("loaded_at", ColumnType.Timestamp),
         Count("users"), Count("compounds"), Count("experiments"), Count("active_users"),
         Count("previous_users", nullable: true), Count("previous_experiments", nullable: true),
         .. Counts("users"), .. Counts("compounds"), .. Counts("experiments"),
         Count("fav_compound_changed"), Count("count_changed"),
         new("unlisted", ColumnType.Text)],
        ["run_id"], null, Loaded: false);

    /// <summary>The rows behind the counts, each with its values before and after as JSON; kept for the last loads only.</summary>
    public static readonly DataSetTable Users = List("change_users", "user_id");

    public static readonly DataSetTable Compounds = List("change_compounds", "compound_id");

    public static readonly DataSetTable Experiments = List("change_experiments", "experiment_id");

    public static readonly IReadOnlyList<DataSetTable> Lists = [Users, Compounds, Experiments];

    public static readonly IReadOnlyList<DataSetTable> All = [History, .. Lists];

    static DataSetTable List(string name, string id) => new(name,
        [new("run_id", ColumnType.Uuid), new("kind", ColumnType.Text), new(id, ColumnType.WholeNumber),
         new("before_values", ColumnType.Text, Nullable: true), new("after_values", ColumnType.Text, Nullable: true)],
        ["run_id", "kind", id], null, Loaded: false);
}
