using ExperimentEtl.Storage.Changes;

namespace ExperimentEtl.Storage.Citus;

/// <summary>
/// The change's SQL on Citus. Experiments are distributed by user, and Citus joins two distributed tables only on their
/// distribution column (an outer join never by repartitioning), so the two data sets' experiments are joined by user
/// and id: an experiment that moved to another user then shows as removed under one and added under the other, and
/// the ids found on both sides are counted as changed.
/// </summary>
/// <remarks>
/// The two generations join shard by shard when they share a colocation group. When they do not (workers were added
/// or removed in between), the load first copies the previous data set's distributed tables into its own group
/// (<see cref="CopyReplaced"/>, once per resize) and compares with the copies.
/// </remarks>
sealed class CitusChangeSql(string oldSchema, string newSchema, bool colocated) : PostgresChangeSql(oldSchema, newSchema)
{
    const string CopyPrefix = "replaced_";

    static readonly DataSetTable[] Compared = [DataSetTables.Users, DataSetTables.Experiments, DataSetTables.UserFeatures];

    public override string Replaced(DataSetTable table) =>
        !colocated && Compared.Contains(table) ? Loaded(table with { Name = CopyPrefix + table.Name }) : base.Replaced(table);

    /// <summary>Copies the compared tables of the previous generation into the new one's colocation group; at the start of the load.</summary>
    public static string CopyReplaced(string oldSchema, string newSchema) => string.Concat(Compared.Select(t => $"""
        CREATE TABLE {newSchema}.{CopyPrefix}{t.Name} (LIKE {oldSchema}.{t.Name});
        SELECT create_distributed_table('{newSchema}.{CopyPrefix}{t.Name}', '{t.DistributedBy}', colocate_with => '{newSchema}.users');
        INSERT INTO {newSchema}.{CopyPrefix}{t.Name} SELECT * FROM {oldSchema}.{t.Name};
        """));

    public override bool KeepsFingerprints => false;

    public override string ExperimentsDiffering(string oldIds) => $"""
        SELECT id, CASE WHEN count(*) > 1 THEN '{ChangeKinds.Changed}' ELSE min(kind) END AS kind
        FROM ({ChangeRecorder.Differing(this, DataSetTables.Experiments, "experiment_id",
            $"o.run_time <> n.run_time OR {oldIds} <> n.compound_ids", "n.user_id = o.user_id AND ")}) d
        GROUP BY id
        """;
}
