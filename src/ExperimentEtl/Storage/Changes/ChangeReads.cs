using System.Data.Common;
using System.Text.Json;
using ExperimentEtl.Model;

namespace ExperimentEtl.Storage.Changes;

/// <summary>Whether a run's change list can be read.</summary>
public enum ChangeListState
{
    Kept,
    /// <summary>The run did not load a data set (unknown, failed, cancelled, still running).</summary>
    NoChange,
    /// <summary>The list had more rows than the list limit when the run loaded.</summary>
    TooLong,
    /// <summary>The run is older than the loads whose lists are kept.</summary>
    Expired,
}

/// <summary>One page of a change list.</summary>
/// <param name="ContinueAfter">The id the next page starts after; null at the end.</param>
public sealed record ChangePage<T>(IReadOnlyList<T> Entries, int? ContinueAfter);

/// <summary>Reads what loads changed: one load's change, its lists, and the history of loads. SQL alike on every backend.</summary>
public sealed class ChangeReads(IEtlStore store, ChangeListSettings settings)
{
    static readonly JsonSerializerOptions Values = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    const string HistoryColumns = """
        run_id, previous_run_id, loaded_at, users, compounds, experiments, active_users, previous_users, previous_experiments,
        users_added, users_removed, users_changed, users_unchanged, compounds_added, compounds_removed, compounds_changed, compounds_unchanged,
        experiments_added, experiments_removed, experiments_changed, experiments_unchanged, fav_compound_changed, count_changed, unlisted
        """;

    /// <summary>The change a run's load recorded; null when the run loaded no data set.</summary>
    public async Task<DataSetChange?> GetChangeAsync(Guid runId, CancellationToken cancellationToken)
    {
        var entries = await ReadHistoryAsync($"SELECT {HistoryColumns} FROM load_history WHERE run_id = $1", cancellationToken, runId);
        return entries.Count == 0 ? null : ToChange(entries[0]);
    }

    /// <summary>Successful loads, newest first, after <paramref name="before"/> when given.</summary>
    public async Task<IReadOnlyList<LoadHistoryEntry>> ListHistoryAsync(int limit, Guid? before, CancellationToken cancellationToken)
    {
        var page = before is { } run
            ? await ReadHistoryAsync($"""
                SELECT {HistoryColumns} FROM load_history
                WHERE loaded_at < (SELECT loaded_at FROM load_history WHERE run_id = $1)
                   OR loaded_at = (SELECT loaded_at FROM load_history WHERE run_id = $1) AND run_id < $1
                ORDER BY loaded_at DESC, run_id DESC LIMIT $2
                """, cancellationToken, run, limit)
            : await ReadHistoryAsync($"SELECT {HistoryColumns} FROM load_history ORDER BY loaded_at DESC, run_id DESC LIMIT $1", cancellationToken, limit);
        return [.. page.Select(row => row.Entry)];
    }

    /// <summary>Whether the list of <paramref name="table"/> (users, compounds or experiments) of a run can be read.</summary>
    public async Task<ChangeListState> GetListStateAsync(Guid runId, string table, CancellationToken cancellationToken)
    {
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        await using var command = DbCommands.Create(connection, null, """
            SELECT h.unlisted, (SELECT count(*) FROM load_history l WHERE l.loaded_at > h.loaded_at)
            FROM load_history h WHERE h.run_id = $1
            """, runId);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        if (!await reader.ReadAsync(cancellationToken))
        {
            return ChangeListState.NoChange;
        }
        if (reader.GetString(0).Split(',').Contains(table))
        {
            return ChangeListState.TooLong;
        }
        return reader.GetInt64(1) >= settings.KeptLoads ? ChangeListState.Expired : ChangeListState.Kept;
    }

    public Task<ChangePage<UserChange>> ListUsersAsync(Guid runId, string kind, int after, int limit, CancellationToken cancellationToken) =>
        ListAsync(ChangeTables.Users, runId, kind, after, limit,
            (id, before, after) => new UserChange(id, Parse<UserValues>(before), Parse<UserValues>(after)), cancellationToken);

    public Task<ChangePage<CompoundChange>> ListCompoundsAsync(Guid runId, string kind, int after, int limit, CancellationToken cancellationToken) =>
        ListAsync(ChangeTables.Compounds, runId, kind, after, limit,
            (id, before, after) => new CompoundChange(id, Parse<CompoundValues>(before), Parse<CompoundValues>(after)), cancellationToken);

    public Task<ChangePage<ExperimentChange>> ListExperimentsAsync(Guid runId, string kind, int after, int limit, CancellationToken cancellationToken) =>
        ListAsync(ChangeTables.Experiments, runId, kind, after, limit,
            (id, before, after) => new ExperimentChange(id, Parse<ExperimentValues>(before), Parse<ExperimentValues>(after)), cancellationToken);

    async Task<ChangePage<T>> ListAsync<T>(DataSetTable list, Guid runId, string kind, int after, int limit,
        Func<int, string?, string?, T> entry, CancellationToken cancellationToken)
    {
        var id = list.Key[2];
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        await using var command = DbCommands.Create(connection, null, $"""
            SELECT {id}, before_values, after_values FROM {list.Name}
            WHERE run_id = $1 AND kind = $2 AND {id} > $3 ORDER BY {id} LIMIT $4
            """, runId, kind, after, limit);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var entries = new List<T>();
        var last = after;
        while (await reader.ReadAsync(cancellationToken))
        {
            last = reader.GetInt32(0);
            entries.Add(entry(last, reader.IsDBNull(1) ? null : reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2)));
        }
        return new ChangePage<T>(entries, entries.Count == limit ? last : null);
    }

    static T? Parse<T>(string? json) where T : class => json is null ? null : JsonSerializer.Deserialize<T>(json, Values);

    sealed record HistoryRow(LoadHistoryEntry Entry, long? PreviousUsers, long? PreviousExperiments);

    static DataSetChange ToChange(HistoryRow row) => new(row.Entry.RunId, row.Entry.PreviousRunId,
        row.Entry.Changes.Users, row.Entry.Changes.Compounds, row.Entry.Changes.Experiments,
        row.Entry.Changes.FavCompoundChanged, row.Entry.Changes.CountChanged,
        new AverageChange(row.PreviousUsers is { } users ? Averages.PerUser(row.PreviousExperiments ?? 0, users) : null,
            Averages.PerUser(row.Entry.Experiments, row.Entry.Users)));

    async Task<List<HistoryRow>> ReadHistoryAsync(string sql, CancellationToken cancellationToken, params object?[] values)
    {
        await using var connection = await store.OpenReadConnectionAsync(cancellationToken);
        await using var command = DbCommands.Create(connection, null, sql, values);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var rows = new List<HistoryRow>();
        while (await reader.ReadAsync(cancellationToken))
        {
            rows.Add(Read(reader));
        }
        return rows;
    }

    static HistoryRow Read(DbDataReader r)
    {
        ChangeCounts Counts(int first) => new(r.GetInt64(first), r.GetInt64(first + 1), r.GetInt64(first + 2), r.GetInt64(first + 3));
        var (users, experiments, active) = (r.GetInt64(3), r.GetInt64(5), r.GetInt64(6));
        var entry = new LoadHistoryEntry(DbCommands.GetId(r, 0), DbCommands.GetNullableId(r, 1), DbCommands.GetTime(r, 2),
            users, r.GetInt64(4), experiments, active, Averages.PerUser(experiments, users), Averages.PerUser(experiments, active),
            new LoadChanges(Counts(9), Counts(13), Counts(17), r.GetInt64(21), r.GetInt64(22)),
            [.. r.GetString(23).Split(',', StringSplitOptions.RemoveEmptyEntries)]);
        return new HistoryRow(entry, DbCommands.GetNullableInt64(r, 7), DbCommands.GetNullableInt64(r, 8));
    }
}
