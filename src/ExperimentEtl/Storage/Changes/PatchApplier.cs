using System.Data.Common;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage.Changes;

/// <summary>
/// Applies a change-only reload to the data set in place, inside the load's transaction, with SQL written once for
/// PostgreSQL and SQLite: the added and changed rows were streamed into staging tables (<see cref="Staged"/>); the
/// rows they replace and the rows removed are kept aside, deleted, and the staged rows inserted; the features that
/// moved are replaced the same way; then the change is recorded from the rows kept aside and their replacements.
/// </summary>
/// <remarks>
/// Only DELETE, INSERT and UPDATE touch the data set's tables: on PostgreSQL they take no lock a reader waits for, and
/// a reader's snapshot sees the data set before the commit or after it, whole.
/// </remarks>
sealed class PatchApplier(DbConnection connection, DbTransaction? transaction, ChangeSql dialect, Func<DataSetTable, string> live, ChangeListSettings settings)
{
    const string Prefix = "etl_patch_";

    /// <summary>The staging table the added and changed rows of a loaded table are streamed into, as the data set's table is named.</summary>
    public static string StagedName(DataSetTable table) => Prefix + "new_" + table.Name;

    string Staged(DataSetTable table) => dialect.Scratch(StagedName(table));

    string Scratch(string name) => dialect.Scratch(Prefix + name);

    readonly List<string> _scratch = [];

    static readonly DataSetColumn Id = new("id", ColumnType.WholeNumber);

    /// <summary>The loaded tables' row counts, as one row (users, compounds, experiments).</summary>
    public static string CountRows(Func<DataSetTable, string> live) => $"""
        SELECT (SELECT count(*) FROM {live(DataSetTables.Users)}), (SELECT count(*) FROM {live(DataSetTables.Compounds)}),
               (SELECT count(*) FROM {live(DataSetTables.Experiments)})
        """;

    /// <summary>
    /// The loaded tables' row counts must be the ones the data set's record (and so the comparison state) counts: a row
    /// deleted or added by hand would otherwise make the patched data set differ from a full load.
    /// </summary>
    /// <exception cref="FullLoadNeededException">They differ: the run loads in full instead.</exception>
    public static void CheckRowCounts(DataSetIdentity expected, (long Users, long Compounds, long Experiments) counted)
    {
        if (counted != (expected.Users, expected.Compounds, expected.Experiments))
        {
            throw new FullLoadNeededException(
                $"The database's tables hold {counted.Users:N0} users, {counted.Compounds:N0} compounds and {counted.Experiments:N0} experiments, not the " +
                $"{expected.Users:N0}, {expected.Compounds:N0} and {expected.Experiments:N0} of the data set they were loaded with: they were changed outside the service.");
        }
    }

    /// <summary>Counts the loaded tables' rows in the load's transaction and checks them (<see cref="CheckRowCounts(DataSetIdentity, ValueTuple{long, long, long})"/>).</summary>
    public void CheckRowCounts(DataSetIdentity expected, CancellationToken cancellationToken)
    {
        using var command = Command(CountRows(live), [], cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        using var reader = command.ExecuteReader();
        reader.Read();
        CheckRowCounts(expected, (reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
    }

    /// <summary>Applies the patch and records the change; the run's record is saved by the caller, in the same transaction.</summary>
    /// <returns>The change, and the rows written per table.</returns>
    public (DataSetChange Change, RowsWritten Written) Apply(DataSetPatch patch, Guid runId, DateTimeOffset loadedAt, CancellationToken cancellationToken)
    {
        using var span = Telemetry.EtlTelemetry.Source.StartActivity("etl.apply_changes");
        Fill("gone_users", [Id], [patch.UsersRemoved.ToArray()], cancellationToken);
        Fill("gone_compounds", [Id], [patch.CompoundsRemoved.ToArray()], cancellationToken);
        Fill("gone_experiments", [Id], [patch.ExperimentsRemoved.ToArray()], cancellationToken);
        Fill("fav_users", [Id], [patch.FavoritesRewritten.ToArray()], cancellationToken);
        Fill("gone_usage", [Id], [patch.CompoundFeaturesRemoved.ToArray()], cancellationToken);
        var features = DataSetTables.UserFeatures.Columns.Where(c => c.Name != "fav_compound_name").ToList();
        Fill("new_user_features", features,
            [patch.Users.Select(u => u.UserId).ToArray(), patch.Users.Select(u => u.ExperimentCount).ToArray(),
             patch.Users.Select(u => u.FavoriteCompoundId).ToArray(), patch.Users.Select(u => u.RowFingerprint).ToArray(),
             patch.Users.Select(u => u.ExperimentsFingerprint).ToArray()], cancellationToken);
        Fill("new_favorites", DataSetTables.UserFavorites.Columns,
            [patch.Favorites.Select(f => f.UserId).ToArray(), patch.Favorites.Select(f => f.CompoundId).ToArray(), patch.Favorites.Select(f => f.Experiments).ToArray()],
            cancellationToken);
        Fill("new_usage", DataSetTables.CompoundFeatures.Columns,
            [patch.CompoundFeatures.Select(c => c.CompoundId).ToArray(), patch.CompoundFeatures.Select(c => c.Experiments).ToArray(),
             patch.CompoundFeatures.Select(c => c.Users).ToArray()], cancellationToken);

        // Each table: the rows about to be replaced or removed are moved aside (for the change lists), then the new ones
        // inserted; compounds before the user features, which copy the favourite's name from them.
        if (dialect.PreferKeyLookups is { } lookups)
        {
            Execute(lookups.On, cancellationToken);
        }
        KeepOld(DataSetTables.DataSet, null, cancellationToken);
        Replace(DataSetTables.Users, $"SELECT user_id FROM {Staged(DataSetTables.Users)} UNION ALL SELECT id FROM {Scratch("gone_users")}", StagedRows(DataSetTables.Users), cancellationToken);
        Replace(DataSetTables.Compounds, $"SELECT compound_id FROM {Staged(DataSetTables.Compounds)} UNION ALL SELECT id FROM {Scratch("gone_compounds")}", StagedRows(DataSetTables.Compounds), cancellationToken);
        Replace(DataSetTables.Experiments, $"SELECT experiment_id FROM {Staged(DataSetTables.Experiments)} UNION ALL SELECT id FROM {Scratch("gone_experiments")}", StagedRows(DataSetTables.Experiments), cancellationToken);
        Replace(DataSetTables.UserFeatures, $"SELECT user_id FROM {Scratch("new_user_features")} UNION ALL SELECT id FROM {Scratch("gone_users")}", $"""
            SELECT n.user_id, n.experiment_count, n.fav_compound_id, c.name, n.row_fingerprint, n.experiments_fingerprint
            FROM {Scratch("new_user_features")} n LEFT JOIN {live(DataSetTables.Compounds)} c ON c.compound_id = n.fav_compound_id
            """, cancellationToken);
        Replace(DataSetTables.UserFavorites, $"SELECT id FROM {Scratch("fav_users")} UNION ALL SELECT id FROM {Scratch("gone_users")}",
            $"SELECT {DataSetTables.UserFavorites.ColumnList} FROM {Scratch("new_favorites")}", cancellationToken);
        Execute($"""
            DELETE FROM {live(DataSetTables.CompoundFeatures)} WHERE compound_id IN (
                SELECT compound_id FROM {Scratch("new_usage")} UNION ALL SELECT id FROM {Scratch("gone_usage")})
            """, cancellationToken);
        Execute($"INSERT INTO {live(DataSetTables.CompoundFeatures)} ({DataSetTables.CompoundFeatures.ColumnList}) SELECT {DataSetTables.CompoundFeatures.ColumnList} FROM {Scratch("new_usage")}", cancellationToken);
        if (dialect.PreferKeyLookups is { } back)
        {
            Execute(back.Off, cancellationToken);
        }
        var totals = patch.Totals;
        Execute($"UPDATE {live(DataSetTables.DataSet)} SET run_id = $1, loaded_at = $2, users = $3, experiments = $4, compounds = $5, active_users = $6",
            cancellationToken, runId, loadedAt, totals.UserCount, totals.ExperimentCount, totals.CompoundCount, totals.ActiveUserCount);

        var written = new RowsWritten(
            Count(Staged(DataSetTables.Users), cancellationToken) + patch.UsersRemoved.Count,
            Count(Staged(DataSetTables.Compounds), cancellationToken) + patch.CompoundsRemoved.Count,
            Count(Staged(DataSetTables.Experiments), cancellationToken) + patch.ExperimentsRemoved.Count,
            patch.Users.Count + patch.UsersRemoved.Count,
            Count($"(SELECT user_id, compound_id FROM {Scratch("old_user_favorites")} UNION SELECT user_id, compound_id FROM {Scratch("new_favorites")})", cancellationToken),
            patch.CompoundFeatures.Count + patch.CompoundFeaturesRemoved.Count);

        // Users whose features moved but whose own row did not: the change lists show their row on both sides.
        Execute(dialect.CreateScratch(Prefix + "same_users", $"""
            SELECT * FROM {live(DataSetTables.Users)} WHERE user_id IN (SELECT user_id FROM {Scratch("new_user_features")})
              AND user_id NOT IN (SELECT user_id FROM {Staged(DataSetTables.Users)})
            """), cancellationToken);
        _scratch.Add(Scratch("same_users"));
        // The change's two sides, keyed for its joins by id (SQLite joined the unkeyed tables row by row: minutes at L).
        Side("old_users", $"SELECT * FROM {Scratch("old_users")} UNION ALL SELECT * FROM {Scratch("same_users")}", "user_id", cancellationToken);
        Side("new_users", $"SELECT * FROM {Staged(DataSetTables.Users)} UNION ALL SELECT * FROM {Scratch("same_users")}", "user_id", cancellationToken);
        Side("old_compounds", $"SELECT * FROM {Scratch("old_compounds")}", "compound_id", cancellationToken);
        Side("new_compounds", $"SELECT * FROM {Staged(DataSetTables.Compounds)}", "compound_id", cancellationToken);
        Side("old_experiments", $"SELECT * FROM {Scratch("old_experiments")}", "experiment_id", cancellationToken);
        Side("new_experiments", $"SELECT * FROM {Staged(DataSetTables.Experiments)}", "experiment_id", cancellationToken);
        Side("old_user_features", $"SELECT * FROM {Scratch("old_user_features")}", "user_id", cancellationToken);
        Side("new_user_features", $"SELECT * FROM {live(DataSetTables.UserFeatures)} WHERE user_id IN (SELECT user_id FROM {Scratch("new_user_features")})", "user_id", cancellationToken);
        var change = new ChangeRecorder(connection, transaction, new Touched(dialect, live, Scratch), settings).Record(cancellationToken);
        return (change, written);
    }

    /// <summary>Stamps the load's end in the data set's record and its history entry, then drops the staging and scratch tables.</summary>
    public void Finish(Guid runId, DateTimeOffset loadedAt, CancellationToken cancellationToken)
    {
        new ChangeRecorder(connection, transaction, new Touched(dialect, live, Scratch), settings).Stamp(runId, loadedAt, cancellationToken);
        Execute(string.Concat(_scratch.Concat(DataSetTables.All.Where(t => t.Loaded).Select(Staged)).Select(t => $"DROP TABLE {t};")), cancellationToken);
    }

    void Fill(string name, IReadOnlyList<DataSetColumn> columns, IReadOnlyList<Array> values, CancellationToken cancellationToken)
    {
        var (query, parameters) = dialect.Rows(columns, values);
        Execute(dialect.CreateEmptyScratch(Prefix + name, columns), cancellationToken);
        _scratch.Add(Scratch(name));
        if (values[0].Length > 0)
        {
            Execute($"INSERT INTO {Scratch(name)} {query}", cancellationToken, parameters);
        }
    }

    void Side(string name, string query, string key, CancellationToken cancellationToken)
    {
        Execute(dialect.CreateKeyedScratch(Prefix + "side_" + name, query, key), cancellationToken);
        _scratch.Add(Scratch("side_" + name));
    }

    string StagedRows(DataSetTable table) => $"SELECT {table.ColumnList} FROM {Staged(table)}";

    /// <summary>Copies the data set's record aside, for the change.</summary>
    void KeepOld(DataSetTable table, string? ids, CancellationToken cancellationToken)
    {
        var name = "old_" + table.Name;
        Execute(dialect.CreateScratch(Prefix + name, ids is null
            ? $"SELECT * FROM {live(table)}"
            : $"SELECT * FROM {live(table)} WHERE {table.Key[0]} IN ({ids})"), cancellationToken);
        _scratch.Add(Scratch(name));
    }

    /// <summary>Moves the rows whose key is among <paramref name="ids"/> aside into <c>old_</c>, then inserts <paramref name="rows"/>.</summary>
    void Replace(DataSetTable table, string ids, string rows, CancellationToken cancellationToken)
    {
        var old = "old_" + table.Name;
        Execute(dialect.MoveAside(live(table), Prefix + old, $"{table.Key[0]} IN ({ids})"), cancellationToken);
        _scratch.Add(Scratch(old));
        Execute($"INSERT INTO {live(table)} ({table.ColumnList}) {rows}", cancellationToken);
    }

    long Count(string table, CancellationToken cancellationToken)
    {
        using var command = Command($"SELECT count(*) FROM {table} c", [], cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    void Execute(string sql, CancellationToken cancellationToken, params object?[] values)
    {
        using var command = Command(sql, values, cancellationToken);
        using var stop = cancellationToken.Register(command.Cancel);
        command.ExecuteNonQuery();
    }

    DbCommand Command(string sql, object?[] values, CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var command = DbCommands.Create(connection, transaction, sql, values);
        command.CommandTimeout = 0;
        return command;
    }

    /// <summary>
    /// The change's two sides, made of the touched rows only: the rows kept aside before the patch against their
    /// replacements, and on both sides the unchanged rows of the users whose features moved (the lists show them). The counts of unchanged rows come from the data set's record, so the change is the one a full
    /// load would have computed; the whole data sets are never joined.
    /// </summary>
    sealed class Touched(ChangeSql dialect, Func<DataSetTable, string> live, Func<string, string> scratch) : ChangeSql
    {
        public override string Replaced(DataSetTable table) =>
            table == DataSetTables.DataSet ? scratch("old_dataset") : scratch("side_old_" + table.Name);

        public override string Loaded(DataSetTable table) =>
            table == DataSetTables.DataSet ? live(table) : scratch("side_new_" + table.Name);

        public override bool KeepsFingerprints => false;

        public override string JsonObject(IEnumerable<(string Key, string Value)> fields) => dialect.JsonObject(fields);

        public override string Scratch(string name) => dialect.Scratch(name);

        public override string CreateScratch(string name, string query) => dialect.CreateScratch(name, query);

        public override string CreateIdScratch(string name, string query) => dialect.CreateIdScratch(name, query);

        public override string IdsJson(string column) => dialect.IdsJson(column);

        public override string SortedIds(string column) => dialect.SortedIds(column);

        public override string ColumnExists(DataSetTable table, string column) => dialect.ColumnExists(table, column);

        public override (string Query, object?[] Values) Rows(IReadOnlyList<DataSetColumn> columns, IReadOnlyList<Array> values) => dialect.Rows(columns, values);

        public override string CreateEmptyScratch(string name, IReadOnlyList<DataSetColumn> columns) => dialect.CreateEmptyScratch(name, columns);

        public override string CreateKeyedScratch(string name, string query, string key) => dialect.CreateKeyedScratch(name, query, key);
    }
}
