using System.Globalization;
using System.Net;
using System.Text.Json;
using ExperimentEtl.Configuration;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ExperimentEtl.Tests.Changes;

/// <summary>
/// Change-only reloads (issue 20): a reload that writes only what changed leaves exactly the tables and the report
/// that a full load of the same files leaves, compared row by row with a second app that always loads in full; and a
/// reload whose comparison state does not belong to the data set in the database loads in full.
/// </summary>
public sealed class ChangeOnlyReloadTests
{
    public static TheoryData<Backend> Patched => [Backend.Sqlite, Backend.SqliteFile, Backend.Postgres];

    [Theory]
    [MemberData(nameof(Patched))]
    public async Task Twenty_change_only_reloads_in_a_row_leave_what_full_loads_of_the_same_files_leave(Backend backend)
    {
        var random = new Random(2000 + (int)backend);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 60, 12, 300);
        data.WriteTo(files.Directory);
        // Every reload of this app applies only the changes, however many; the other one always loads in full.
        await using var reloads = await CreateAsync(backend, files, ("ETL_APPLY_CHANGES_UP_TO", "1"));
        await using var full = await CreateAsync(backend, files, ("ETL_APPLY_CHANGES_UP_TO", "0"));
        Assert.Equal("full", (await LoadAsync(reloads)).GetProperty("apply").GetString());
        await LoadAsync(full);

        for (var round = 1; round <= 20; round++)
        {
            data = ExportEditor.Edit(data, random, new EditOptions(Share: 0.01 + random.NextDouble() * 0.05));
            data.WriteTo(files.Directory);
            var run = await LoadAsync(reloads, round % 4 == 0 ? "lenient" : "strict");
            Assert.Equal("changes", run.GetProperty("apply").GetString());
            var fullRun = await LoadAsync(full);
            Assert.Equal("full", fullRun.GetProperty("apply").GetString());
            await AssertSameDataSetAsync(full, reloads, $"round {round}");

            // Rows written: each added, changed or removed row once, as the change counts them.
            var written = run.GetProperty("rows_written");
            var change = await GetAsync(reloads, $"/api/etl/runs/{run.GetProperty("run_id").GetString()}/changes");
            foreach (var table in new[] { "users", "compounds", "experiments" })
            {
                var counts = change.GetProperty(table);
                Assert.Equal(counts.GetProperty("added").GetInt64() + counts.GetProperty("removed").GetInt64() + counts.GetProperty("changed").GetInt64(),
                    written.GetProperty(table).GetInt64());
            }
        }
    }

    [Fact]
    public async Task A_reload_that_changes_more_than_its_share_reads_the_files_again_into_a_full_load()
    {
        var random = new Random(31);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 60, 12, 300);
        data.WriteTo(files.Directory);
        await using var reloads = await CreateAsync(Backend.SqliteFile, files, ("ETL_APPLY_CHANGES_UP_TO", "0.02"));
        await using var full = await CreateAsync(Backend.SqliteFile, files, ("ETL_APPLY_CHANGES_UP_TO", "0"));
        await LoadAsync(reloads);

        ExportEditor.Edit(data, random, new EditOptions(Share: 0.3)).WriteTo(files.Directory);
        var run = await LoadAsync(reloads);
        Assert.Equal("full", run.GetProperty("apply").GetString());
        Assert.Contains("rows changed", run.GetProperty("apply_reason").GetString(), StringComparison.Ordinal);
        // The files were read twice, but the run reports them once.
        Assert.Equal(data.Experiments.Count > 0 ? 3 : 0, run.GetProperty("files").GetArrayLength());
        await LoadAsync(full);
        await AssertSameDataSetAsync(full, reloads, "after the fallback");
    }

    [Theory]
    [MemberData(nameof(Patched))]
    public async Task A_reload_whose_comparison_state_is_not_of_the_data_set_in_the_database_loads_in_full(Backend backend)
    {
        var random = new Random(3000 + (int)backend);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 50, 10, 200);
        data.WriteTo(files.Directory);
        // Small data sets change by large shares: no limit here, only the state decides.
        await using var reloads = await CreateAsync(backend, files, ("ETL_APPLY_CHANGES_UP_TO", "1"));
        await using var full = await CreateAsync(backend, files, ("ETL_APPLY_CHANGES_UP_TO", "0"));
        await LoadAsync(reloads);
        var state = StatePath(reloads);
        Assert.True(File.Exists(state), state);

        async Task ReloadAsync(string expectedApply, string? reason)
        {
            data = ExportEditor.Edit(data, random, new EditOptions(Share: 0.03));
            data.WriteTo(files.Directory);
            var run = await LoadAsync(reloads);
            Assert.Equal(expectedApply, run.GetProperty("apply").GetString());
            if (reason is not null)
            {
                Assert.Contains(reason, run.GetProperty("apply_reason").GetString(), StringComparison.Ordinal);
            }
            await LoadAsync(full);
            await AssertSameDataSetAsync(full, reloads, reason ?? expectedApply);
        }

        await ReloadAsync("changes", null);

        // The state lost.
        File.Delete(state);
        await ReloadAsync("full", "No comparison state");
        await ReloadAsync("changes", null);

        // A row deleted by hand: the record's counts no longer match the tables.
        var store = reloads.Services.GetRequiredService<IEtlStore>();
        await ExecuteAsync(store, $"DELETE FROM experiments WHERE experiment_id = {data.Experiments[0].Id}");
        await ReloadAsync("full", "changed outside the service");

        // A state kept for an older data set (a copy of the file from before the last load, as after a restore of the
        // database's backup from another time).
        var older = state + ".older";
        File.Copy(state, older);
        await ReloadAsync("changes", null);
        File.Copy(older, state, overwrite: true);
        await ReloadAsync("full", "not the one of run");
        await ReloadAsync("changes", null);
    }

    [Theory]
    [MemberData(nameof(Patched))]
    public async Task A_reader_sees_the_data_set_before_a_change_only_reload_or_after_it_never_a_mix(Backend backend)
    {
        var random = new Random(4000 + (int)backend);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 20, 5, 60);
        data.WriteTo(files.Directory);
        await using var app = await CreateAsync(backend, files, ("ETL_APPLY_CHANGES_UP_TO", "1"));
        await LoadAsync(app);
        var store = app.Services.GetRequiredService<IEtlStore>();
        var (renamed, removed) = (data.Users[0], data.Users[1]);

        await using var connection = await store.OpenReadConnectionAsync(CancellationToken.None);
        await using var transaction = await store.BeginConsistentReadAsync(connection, CancellationToken.None);
        async Task<string> ReadAsync(string sql)
        {
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = sql;
            return Convert.ToString(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture)!;
        }
        var query = $"SELECT (SELECT name FROM users WHERE user_id = {renamed.Id}) || '/' || (SELECT count(*) FROM users) || '/' || (SELECT users FROM dataset)";
        var before = await ReadAsync(query);
        Assert.Equal($"{renamed.Name}/{data.Users.Count}/{data.Users.Count}", before);

        // The reload changes one user and removes another (with their experiments) while the reader's transaction is open,
        // and is not held by it.
        data = new ExportData
        {
            Users = [.. data.Users.Where(u => u != removed).Select(u => u == renamed ? u with { Name = u.Name + " Jr" } : u)],
            Compounds = data.Compounds,
            Experiments = [.. data.Experiments.Where(e => e.UserId != removed.Id)],
        };
        data.WriteTo(files.Directory);
        using (var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            var response = await app.CreateClient().PostAsync("/api/etl/runs?wait=true", null, timeout.Token);
            Assert.Equal("changes", (await response.ReadJsonAsync()).GetProperty("apply").GetString());
        }

        // Every statement of the reader's transaction still reads the data set it began with, whole.
        Assert.Equal(before, await ReadAsync(query));
        Assert.Equal(before, await ReadAsync(query));
        await transaction.CommitAsync();
        await using var fresh = await store.OpenReadConnectionAsync(CancellationToken.None);
        await using var read = await store.BeginConsistentReadAsync(fresh, CancellationToken.None);
        await using var after = fresh.CreateCommand();
        after.Transaction = read;
        after.CommandText = query;
        Assert.Equal($"{renamed.Name} Jr/{data.Users.Count}/{data.Users.Count}", Convert.ToString(await after.ExecuteScalarAsync(), CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task On_Citus_every_load_replaces_the_data_set_whole()
    {
        var random = new Random(41);
        using var files = new TestFiles();
        var data = ExportData.Random(random, 30, 8, 100);
        data.WriteTo(files.Directory);
        await using var app = await EtlAppFactory.CreateAsync(Backend.Citus, files.Directory);
        await LoadAsync(app);
        ExportEditor.Edit(data, random, new EditOptions(Share: 0.03)).WriteTo(files.Directory);
        var run = await LoadAsync(app);
        Assert.Equal("full", run.GetProperty("apply").GetString());
        Assert.Contains("Citus", run.GetProperty("apply_reason").GetString(), StringComparison.Ordinal);
    }

    static async Task<EtlAppFactory> CreateAsync(Backend backend, TestFiles files, params (string Key, string Value)[] settings)
    {
        var all = settings.ToDictionary(s => s.Key, s => s.Value);
        // A state folder of the app's own: two apps on the same kind of server must not share one.
        all["ETL_STATE_DIR"] = Directory.CreateTempSubdirectory("etl-test-state-").FullName;
        return await EtlAppFactory.CreateAsync(backend, files.Directory, all);
    }

    static string StatePath(EtlAppFactory app)
    {
        var options = app.Services.GetRequiredService<EtlOptions>();
        return new LoadPlanner(app.Services.GetRequiredService<IEtlStore>(), options.ChangeApply, options.MemoryBudget).StatePath!;
    }

    static async Task<JsonElement> LoadAsync(EtlAppFactory app, string mode = "strict")
    {
        var response = await app.CreateClient().PostAsync($"/api/etl/runs?wait=true&mode={mode}", null);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.ReadJsonAsync();
    }

    static async Task<JsonElement> GetAsync(EtlAppFactory app, string path)
    {
        var response = await app.CreateClient().GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.ReadJsonAsync();
    }

    static async Task ExecuteAsync(IEtlStore store, string sql)
    {
        // Outside the service's loads, as an operator would: on PostgreSQL in the generation the data set is in.
        await using var connection = await store.OpenReadConnectionAsync(CancellationToken.None);
        await using var transaction = await store.BeginConsistentReadAsync(connection, CancellationToken.None);
        await using var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
        await transaction.CommitAsync();
    }

    /// <summary>Every table of both data sets, row by row (the record's run and time aside), and both reports.</summary>
    static async Task AssertSameDataSetAsync(EtlAppFactory expected, EtlAppFactory actual, string when)
    {
        var want = await DumpAsync(expected);
        var got = await DumpAsync(actual);
        foreach (var table in want.Keys)
        {
            var missing = want[table].Except(got[table]).Take(5).ToList();
            var extra = got[table].Except(want[table]).Take(5).ToList();
            Assert.True(missing.Count == 0 && extra.Count == 0 && want[table].Count == got[table].Count,
                $"{when}: {table} differs from a full load's: missing {string.Join(" / ", missing)}; extra {string.Join(" / ", extra)}; rows {got[table].Count} vs {want[table].Count}");
        }
        var wantReport = (await GetAsync(expected, "/report")).GetProperty("user_reports").GetRawText();
        var gotReport = (await GetAsync(actual, "/report")).GetProperty("user_reports").GetRawText();
        Assert.Equal(wantReport, gotReport);
        Assert.Equal((await GetAsync(expected, "/report")).GetProperty("average_experiment_count").GetDouble(),
            (await GetAsync(actual, "/report")).GetProperty("average_experiment_count").GetDouble());
    }

    static async Task<Dictionary<string, List<string>>> DumpAsync(EtlAppFactory app)
    {
        var store = app.Services.GetRequiredService<IEtlStore>();
        await using var connection = await store.OpenReadConnectionAsync(CancellationToken.None);
        await using var transaction = await store.BeginConsistentReadAsync(connection, CancellationToken.None);
        var tables = new Dictionary<string, List<string>>();
        foreach (var table in DataSetTables.All)
        {
            var columns = table == DataSetTables.DataSet ? "users, experiments, compounds, active_users" : table.ColumnList;
            await using var command = connection.CreateCommand();
            command.Transaction = transaction;
            command.CommandText = $"SELECT {columns} FROM {table.Name} ORDER BY {string.Join(", ", table.Key)}";
            await using var reader = await command.ExecuteReaderAsync();
            var rows = new List<string>();
            while (await reader.ReadAsync())
            {
                rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.GetValue(i) switch
                {
                    int[] ids => string.Join(';', ids),
                    DateTime date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    DateOnly date => date.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
                    IFormattable value => value.ToString(null, CultureInfo.InvariantCulture),
                    var value => value.ToString(),
                })));
            }
            tables[table.Name] = rows;
        }
        return tables;
    }
}
