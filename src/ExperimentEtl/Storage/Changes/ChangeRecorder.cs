using System.Data.Common;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage.Changes;

/// <summary>
/// Computes what a load changed, inside the load's transaction, once both data sets are complete, and writes the
/// counts into the history and the changed rows, with their values before and after, into the change lists; the
/// load's commit publishes them with the data set. No memory in the process: the database compares.
/// </summary>
/// <remarks>
/// Where both data sets keep their users' fingerprints (PostgreSQL, SQLite), one join of the two user_features tables
/// picks the users that may have changed and only their rows and experiments are compared field by field
/// (<see cref="CompareByFingerprints"/>); a change is missed only if a 64-bit fingerprint fails to move, a chance of
/// about 2^-64 per changed user. Otherwise (Citus, or a data set loaded before fingerprints) both data sets are
/// joined whole by id and every field compared (<see cref="CompareAll"/>). Costs: docs/benchmarks.md. Scratch tables
/// hold the ids that differ, so that the counts and the lists read them rather than joining again.
/// </remarks>
sealed class ChangeRecorder(DbConnection connection, DbTransaction? transaction, ChangeSql sql, ChangeListSettings settings)
{
    const string UsersDiff = "etl_chg_users";
    const string CompoundsDiff = "etl_chg_compounds";
    const string ExperimentsDiff = "etl_chg_experiments";
    const string FeaturesDiff = "etl_chg_features";
    const string MovedUsers = "etl_chg_moved_users";

    sealed record DataSetCounts(Guid? RunId, long Users, long Compounds, long Experiments, long ActiveUsers, DateTimeOffset LoadedAt);

    /// <summary>Records the change of the data set in <see cref="ChangeSql.Loaded"/>'s tables, whose record is already written.</summary>
    public DataSetChange Record(CancellationToken cancellationToken)
    {
        using var span = Telemetry.EtlTelemetry.Source.StartActivity("etl.changes");
        var previous = ReadCounts(sql.Replaced(DataSetTables.DataSet), cancellationToken);
        var current = ReadCounts(sql.Loaded(DataSetTables.DataSet), cancellationToken)
            ?? throw new InvalidOperationException("The loaded data set has no record.");
        var runId = current.RunId ?? throw new InvalidOperationException("The loaded data set has no run id.");
        var unlisted = new List<string>();
        ChangeCounts users, compounds, experiments;
        long favChanged = 0, countChanged = 0;
        if (previous is null)
        {
            // A first load: every row was added; its lists are the data set itself, kept if short enough.
            span?.SetTag("etl.changes.compared", "nothing");
            users = new ChangeCounts(current.Users, 0, 0, 0);
            compounds = new ChangeCounts(current.Compounds, 0, 0, 0);
            experiments = new ChangeCounts(current.Experiments, 0, 0, 0);
            ListAllAdded(runId, DataSetTables.Users, ChangeTables.Users, current.Users, unlisted, cancellationToken);
            ListAllAdded(runId, DataSetTables.Compounds, ChangeTables.Compounds, current.Compounds, unlisted, cancellationToken);
            ListAllAdded(runId, DataSetTables.Experiments, ChangeTables.Experiments, current.Experiments, unlisted, cancellationToken);
        }
        else
        {
            // A data set loaded before change tracking stored each experiment's ids in the order listed.
            var tracked = previous.RunId is { } previousRun && InHistory(previousRun, cancellationToken);
            var oldIds = tracked ? "o.compound_ids" : sql.SortedIds("o.compound_ids");
            Execute(sql.CreateScratch(CompoundsDiff, Differing(sql, DataSetTables.Compounds, "compound_id",
                "o.name <> n.name OR o.structure <> n.structure")), cancellationToken);
            if (sql.KeepsFingerprints && HasFingerprints(cancellationToken))
            {
                span?.SetTag("etl.changes.compared", "fingerprints");
                CompareByFingerprints(oldIds, cancellationToken);
            }
            else
            {
                span?.SetTag("etl.changes.compared", "all");
                CompareAll(oldIds, cancellationToken);
            }
            users = Counts(UsersDiff, current.Users, cancellationToken);
            compounds = Counts(CompoundsDiff, current.Compounds, cancellationToken);
            experiments = Counts(ExperimentsDiff, current.Experiments, cancellationToken);
            (favChanged, countChanged) = FeatureCounts(cancellationToken);
            var userRows = $"""
                SELECT id, kind FROM {sql.Scratch(UsersDiff)}
                UNION ALL SELECT id, '{ChangeKinds.FavCompoundChanged}' FROM {sql.Scratch(FeaturesDiff)} WHERE fav = 1
                UNION ALL SELECT id, '{ChangeKinds.CountChanged}' FROM {sql.Scratch(FeaturesDiff)} WHERE cnt = 1
                """;
            List(runId, DataSetTables.Users, ChangeTables.Users, userRows, users.Added + users.Removed + users.Changed + favChanged + countChanged, unlisted, cancellationToken);
            List(runId, DataSetTables.Compounds, ChangeTables.Compounds, $"SELECT id, kind FROM {sql.Scratch(CompoundsDiff)}",
                compounds.Added + compounds.Removed + compounds.Changed, unlisted, cancellationToken);
            List(runId, DataSetTables.Experiments, ChangeTables.Experiments, $"SELECT id, kind FROM {sql.Scratch(ExperimentsDiff)}",
                experiments.Added + experiments.Removed + experiments.Changed, unlisted, cancellationToken, oldIds);
            Execute(string.Concat(new[] { UsersDiff, CompoundsDiff, ExperimentsDiff, FeaturesDiff }.Select(t => $"DROP TABLE {sql.Scratch(t)};")), cancellationToken);
        }

        Execute($"""
            INSERT INTO {ChangeTables.History.Name} ({ChangeTables.History.ColumnList})
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23, $24)
            """, cancellationToken,
            runId, previous?.RunId, current.LoadedAt, current.Users, current.Compounds, current.Experiments, current.ActiveUsers,
            previous?.Users, previous?.Experiments,
            users.Added, users.Removed, users.Changed, users.Unchanged,
            compounds.Added, compounds.Removed, compounds.Changed, compounds.Unchanged,
            experiments.Added, experiments.Removed, experiments.Changed, experiments.Unchanged,
            favChanged, countChanged, string.Join(",", unlisted));
        foreach (var list in ChangeTables.Lists)
        {
            Execute($"""
                DELETE FROM {list.Name} WHERE run_id NOT IN (
                    SELECT run_id FROM {ChangeTables.History.Name} ORDER BY loaded_at DESC LIMIT {settings.KeptLoads})
                """, cancellationToken);
        }
        return new DataSetChange(runId, previous?.RunId, users, compounds, experiments, favChanged, countChanged,
            new AverageChange(previous is null ? null : Averages.PerUser(previous.Experiments, previous.Users), Averages.PerUser(current.Experiments, current.Users)));
    }

    /// <summary>
    /// Both data sets keep their users' fingerprints: one join of the two user_features tables finds the users added,
    /// removed, or whose own fields or experiments may have changed, and only those users' rows and experiments are
    /// compared field by field. For an export that changed a little this reads the experiments once per data set at
    /// most, and not at all when no user's experiments moved.
    /// </summary>
    void CompareByFingerprints(string oldIds, CancellationToken cancellationToken)
    {
        Execute(sql.CreateScratch(FeaturesDiff, $"""
            SELECT coalesce(n.user_id, o.user_id) AS id,
                   CASE WHEN o.user_id IS NULL THEN '{ChangeKinds.Added}' WHEN n.user_id IS NULL THEN '{ChangeKinds.Removed}' ELSE '{ChangeKinds.Changed}' END AS kind,
                   CASE WHEN o.row_fingerprint = n.row_fingerprint THEN 0 ELSE 1 END AS row_moved,
                   CASE WHEN o.experiments_fingerprint = n.experiments_fingerprint THEN 0 ELSE 1 END AS experiments_moved,
                   {FavoriteMoved} AS fav, {CountMoved} AS cnt
            FROM {sql.Replaced(DataSetTables.UserFeatures)} o FULL JOIN {sql.Loaded(DataSetTables.UserFeatures)} n ON n.user_id = o.user_id
            WHERE o.user_id IS NULL OR n.user_id IS NULL
               OR o.row_fingerprint <> n.row_fingerprint OR o.experiments_fingerprint <> n.experiments_fingerprint
               OR o.experiment_count <> n.experiment_count OR o.fav_compound_id IS DISTINCT FROM n.fav_compound_id
            """), cancellationToken);
        Execute(sql.CreateScratch(UsersDiff, $"""
            SELECT id, kind FROM {sql.Scratch(FeaturesDiff)} WHERE kind <> '{ChangeKinds.Changed}'
            UNION ALL
            SELECT c.id, c.kind FROM {sql.Scratch(FeaturesDiff)} c
            JOIN {sql.Replaced(DataSetTables.Users)} o ON o.user_id = c.id JOIN {sql.Loaded(DataSetTables.Users)} n ON n.user_id = c.id
            WHERE c.kind = '{ChangeKinds.Changed}' AND c.row_moved = 1 AND ({UserFieldsDiffer})
            """), cancellationToken);
        // Keyed: each data set's experiments look their user up in it (a nested loop over it unkeyed took 1.5 s at M).
        Execute(sql.CreateIdScratch(MovedUsers, $"SELECT id FROM {sql.Scratch(FeaturesDiff)} WHERE experiments_moved = 1"), cancellationToken);
        Execute(sql.CreateScratch(ExperimentsDiff, Count($"SELECT id FROM {sql.Scratch(MovedUsers)}", cancellationToken) == 0
            ? $"SELECT experiment_id AS id, '{ChangeKinds.Changed}' AS kind FROM {sql.Loaded(DataSetTables.Experiments)} WHERE 1 = 0"
            : ExperimentsOfDiffering(oldIds, $"SELECT id FROM {sql.Scratch(MovedUsers)}")), cancellationToken);
        Execute($"DROP TABLE {sql.Scratch(MovedUsers)}", cancellationToken);
    }

    /// <summary>
    /// The experiments that differ, as (id, kind), among those of the given users: an experiment added or changed moves
    /// the sum of its user now, one removed (or moved away) the sum of its user before. Looked up by id in the other
    /// data set, so that each side keeps its key (SQLite cannot use an index through a FULL JOIN of filtered rows).
    /// </summary>
    string ExperimentsOfDiffering(string oldIds, string users) => $"""
        SELECT n.experiment_id AS id, CASE WHEN o.experiment_id IS NULL THEN '{ChangeKinds.Added}' ELSE '{ChangeKinds.Changed}' END AS kind
        FROM {sql.Loaded(DataSetTables.Experiments)} n LEFT JOIN {sql.Replaced(DataSetTables.Experiments)} o ON o.experiment_id = n.experiment_id
        WHERE n.user_id IN ({users})
          AND (o.experiment_id IS NULL OR o.user_id <> n.user_id OR o.run_time <> n.run_time OR {oldIds} <> n.compound_ids)
        UNION ALL
        SELECT o.experiment_id, '{ChangeKinds.Removed}' FROM {sql.Replaced(DataSetTables.Experiments)} o
        WHERE o.user_id IN ({users})
          AND NOT EXISTS (SELECT 1 FROM {sql.Loaded(DataSetTables.Experiments)} n WHERE n.experiment_id = o.experiment_id)
        """;

    /// <summary>Compares every row of both data sets: for a data set without fingerprints (loaded before them, or on Citus).</summary>
    void CompareAll(string oldIds, CancellationToken cancellationToken)
    {
        Execute(sql.CreateScratch(UsersDiff, Differing(sql, DataSetTables.Users, "user_id", UserFieldsDiffer)), cancellationToken);
        Execute(sql.CreateScratch(ExperimentsDiff, sql.ExperimentsDiffering(oldIds)), cancellationToken);
        Execute(sql.CreateScratch(FeaturesDiff, $"""
            SELECT n.user_id AS id, {FavoriteMoved} AS fav, {CountMoved} AS cnt
            FROM {sql.Replaced(DataSetTables.UserFeatures)} o JOIN {sql.Loaded(DataSetTables.UserFeatures)} n ON n.user_id = o.user_id
            WHERE o.experiment_count <> n.experiment_count OR o.fav_compound_id IS DISTINCT FROM n.fav_compound_id
            """), cancellationToken);
    }

    const string UserFieldsDiffer = "o.name <> n.name OR o.email <> n.email OR o.signup_date <> n.signup_date";

    // Only for users present before and after: an added or removed user has no favourite or count that moved.
    const string FavoriteMoved = "CASE WHEN o.user_id IS NOT NULL AND n.user_id IS NOT NULL AND o.fav_compound_id IS DISTINCT FROM n.fav_compound_id THEN 1 ELSE 0 END";
    const string CountMoved = "CASE WHEN o.experiment_count <> n.experiment_count THEN 1 ELSE 0 END";

    /// <summary>Whether the replaced data set kept its users' fingerprints (the loaded one always does where they are kept).</summary>
    bool HasFingerprints(CancellationToken cancellationToken) =>
        Count(sql.ColumnExists(DataSetTables.UserFeatures, "experiments_fingerprint"), cancellationToken) > 0;

    long Count(string query, CancellationToken cancellationToken)
    {
        using var command = Command($"SELECT count(*) FROM ({query}) q", cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// Sets the load's end in its data set record and its history entry, once the change is recorded: the time it
    /// took is part of the load.
    /// </summary>
    public void Stamp(Guid runId, DateTimeOffset loadedAt, CancellationToken cancellationToken)
    {
        Execute($"UPDATE {sql.Loaded(DataSetTables.DataSet)} SET loaded_at = $1", cancellationToken, loadedAt);
        Execute($"UPDATE {ChangeTables.History.Name} SET loaded_at = $1 WHERE run_id = $2", cancellationToken, loadedAt, runId);
    }

    /// <summary>The rows of a table that were added, removed or changed, as (id, kind), by one join of the two data sets by id.</summary>
    /// <param name="alsoJoinOn">Conditions the join needs besides the id, each followed by AND.</param>
    public static string Differing(ChangeSql sql, DataSetTable table, string id, string fieldsDiffer, string alsoJoinOn = "") => $"""
        SELECT coalesce(n.{id}, o.{id}) AS id,
               CASE WHEN o.{id} IS NULL THEN '{ChangeKinds.Added}' WHEN n.{id} IS NULL THEN '{ChangeKinds.Removed}' ELSE '{ChangeKinds.Changed}' END AS kind
        FROM {sql.Replaced(table)} o FULL JOIN {sql.Loaded(table)} n ON {alsoJoinOn}n.{id} = o.{id}
        WHERE o.{id} IS NULL OR n.{id} IS NULL OR {fieldsDiffer}
        """;

    DataSetCounts? ReadCounts(string dataSet, CancellationToken cancellationToken)
    {
        using var command = Command($"SELECT run_id, users, compounds, experiments, active_users, loaded_at FROM {dataSet}", cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        using var reader = command.ExecuteReader();
        return reader.Read() ? new DataSetCounts(DbCommands.GetNullableId(reader, 0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4), DbCommands.GetTime(reader, 5)) : null;
    }

    ChangeCounts Counts(string diff, long rowsNow, CancellationToken cancellationToken)
    {
        long added = 0, removed = 0, changed = 0;
        using var command = Command($"SELECT kind, count(*) FROM {sql.Scratch(diff)} GROUP BY kind", cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            cancellationToken.ThrowIfCancellationRequested();
            var count = reader.GetInt64(1);
            switch (reader.GetString(0))
            {
                case ChangeKinds.Added: added = count; break;
                case ChangeKinds.Removed: removed = count; break;
                default: changed = count; break;
            }
        }
        return new ChangeCounts(added, removed, changed, rowsNow - added - changed);
    }

    (long Fav, long Count) FeatureCounts(CancellationToken cancellationToken)
    {
        using var command = Command($"SELECT coalesce(sum(fav), 0), coalesce(sum(cnt), 0) FROM {sql.Scratch(FeaturesDiff)}", cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        using var reader = command.ExecuteReader();
        reader.Read();
        cancellationToken.ThrowIfCancellationRequested();
        return (Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture),
                Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture));
    }

    void ListAllAdded(Guid runId, DataSetTable table, DataSetTable list, long rows, List<string> unlisted, CancellationToken cancellationToken) =>
        List(runId, table, list, $"SELECT {list.Key[2]} AS id, '{ChangeKinds.Added}' AS kind FROM {sql.Loaded(table)}", rows, unlisted, cancellationToken);

    /// <summary>Writes a table's change list, each row with its values before and after, unless it is longer than the limit.</summary>
    void List(Guid runId, DataSetTable table, DataSetTable list, string rows, long count, List<string> unlisted, CancellationToken cancellationToken,
        string oldIds = "o.compound_ids")
    {
        if (count > settings.ListLimit)
        {
            unlisted.Add(table.Name);
            return;
        }
        if (count == 0)
        {
            return;
        }
        var id = list.Key[2];
        var (before, after, joins) = table == DataSetTables.Users
            ? (UserJson("o", "fo"), UserJson("n", "fn"),
               $"""
               LEFT JOIN {sql.Replaced(DataSetTables.UserFeatures)} fo ON fo.user_id = c.id
               LEFT JOIN {sql.Loaded(DataSetTables.UserFeatures)} fn ON fn.user_id = c.id
               """)
            : table == DataSetTables.Compounds
                ? (sql.JsonObject([("name", "o.name"), ("structure", "o.structure")]), sql.JsonObject([("name", "n.name"), ("structure", "n.structure")]), "")
                : (sql.JsonObject([("user_id", "o.user_id"), ("compound_ids", sql.IdsJson(oldIds)), ("run_time", "o.run_time")]),
                   sql.JsonObject([("user_id", "n.user_id"), ("compound_ids", sql.IdsJson("n.compound_ids")), ("run_time", "n.run_time")]), "");
        Execute($"""
            INSERT INTO {list.Name} ({list.ColumnList})
            SELECT $1, c.kind, c.id,
                   CASE WHEN o.{id} IS NULL THEN NULL ELSE {before} END,
                   CASE WHEN n.{id} IS NULL THEN NULL ELSE {after} END
            FROM ({rows}) c
            LEFT JOIN {sql.Replaced(table)} o ON o.{id} = c.id
            LEFT JOIN {sql.Loaded(table)} n ON n.{id} = c.id
            {joins}
            """, cancellationToken, runId);
    }

    string UserJson(string user, string features) => sql.JsonObject([
        ("name", $"{user}.name"), ("email", $"{user}.email"), ("signup_date", $"{user}.signup_date"),
        ("experiment_count", $"{features}.experiment_count"), ("fav_compound_id", $"{features}.fav_compound_id"),
        ("fav_compound_name", $"{features}.fav_compound_name")]);

    void Execute(string text, CancellationToken cancellationToken, params object?[] values)
    {
        using var command = Command(text, cancellationToken, values);
        using var stop = cancellationToken.Register(command.Cancel);
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// A statement of the change: no timeout (a join of large data sets, or a wait for a lock, takes what it takes),
    /// and each caller cancels it when the run is (DELETE, SIGTERM).
    /// </summary>
    DbCommand Command(string text, CancellationToken cancellationToken, params object?[] values)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var command = DbCommands.Create(connection, transaction, text, values);
        command.CommandTimeout = 0;
        return command;
    }

    bool InHistory(Guid runId, CancellationToken cancellationToken)
    {
        using var command = Command($"SELECT count(*) FROM {ChangeTables.History.Name} WHERE run_id = $1", cancellationToken, runId);
        using var stop = cancellationToken.Register(command.Cancel);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }
}
