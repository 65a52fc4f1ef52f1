using System.Net;
using System.Text.Json;
using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace ExperimentEtl.Tests.Http;

/// <summary>What a load changed, as the API answers it, on every backend, for edits whose change is written out by hand.</summary>
public sealed class ChangeApiTests
{
    static async Task<string> LoadAsync(HttpClient client)
    {
        var response = await client.PostAsync("/api/etl/runs?wait=true", null);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (await response.ReadJsonAsync()).GetProperty("run_id").GetString()!;
    }

    static async Task<JsonElement> GetAsync(HttpClient client, string path)
    {
        var response = await client.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.ReadJsonAsync();
    }

    static string Counts(JsonElement change, string table) => string.Join(" ",
        new[] { "added", "removed", "changed", "unchanged" }.Select(kind => $"{kind}={change.GetProperty(table).GetProperty(kind).GetInt64()}"));

    static async Task<string> IdsAsync(HttpClient client, string run, string table, string kind)
    {
        var page = await GetAsync(client, $"/api/etl/runs/{run}/changes/{table}?kind={kind}");
        var id = table[..^1] + "_id";
        return string.Join(",", page.GetProperty(table).EnumerateArray().Select(e => e.GetProperty(id).GetInt32()));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_reload_says_what_the_new_export_changed_and_nothing_for_cosmetic_edits(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        var first = await LoadAsync(client);

        var firstChange = await GetAsync(client, $"/api/etl/runs/{first}/changes");
        Assert.Equal(JsonValueKind.Null, firstChange.GetProperty("previous_run_id").ValueKind);
        Assert.Equal("added=10 removed=0 changed=0 unchanged=0", Counts(firstChange, "users"));
        Assert.Equal("added=11 removed=0 changed=0 unchanged=0", Counts(firstChange, "experiments"));
        Assert.Equal(JsonValueKind.Null, firstChange.GetProperty("average_experiment_count").GetProperty("before").ValueKind);
        Assert.Equal("1,2,3,4,5,6,7,8,9,10", await IdsAsync(client, first, "users", "added"));

        // Alice renamed; Judy (10) loses her only experiment (11); Bob (2) gains experiment 99 listed "3;1;1".
        // Cosmetic: compounds reordered, experiment 1's ids reversed, spaces around a field.
        files.Write("users.csv", File.ReadAllText(Path.Combine(files.Directory, "users.csv")).Replace("Alice,", "Alicia,", StringComparison.Ordinal)
            .Replace("2,\tBob,", "2,\t  Bob  ,", StringComparison.Ordinal));
        files.Write("compounds.csv", "compound_id,\tcompound_name,\tcompound_structure\n3,\tCompound C,\tC8H11NO2\n1,\tCompound A,\tC20H25N3O\n2,\tCompound B,\tC21H30O2");
        var experiments = File.ReadAllLines(Path.Combine(files.Directory, "user_experiments.csv")).ToList();
        experiments[1] = "1,\t1,\t2;1,\t10";
        experiments.RemoveAt(experiments.Count - 1);
        experiments.Add("99,\t2,\t3;1;1,\t7");
        files.Write("user_experiments.csv", string.Join("\n", experiments));
        var second = await LoadAsync(client);

        var change = await GetAsync(client, $"/api/etl/runs/{second}/changes");
        Assert.Equal(first, change.GetProperty("previous_run_id").GetString());
        Assert.Equal("added=0 removed=0 changed=1 unchanged=9", Counts(change, "users"));
        Assert.Equal("added=0 removed=0 changed=0 unchanged=3", Counts(change, "compounds"));
        Assert.Equal("added=1 removed=1 changed=0 unchanged=10", Counts(change, "experiments"));
        Assert.Equal(1, change.GetProperty("fav_compound_changed").GetInt64());
        Assert.Equal(2, change.GetProperty("count_changed").GetInt64());
        Assert.Equal(1.1, change.GetProperty("average_experiment_count").GetProperty("before").GetDouble());
        Assert.Equal(1.1, change.GetProperty("average_experiment_count").GetProperty("after").GetDouble());

        var renamed = (await GetAsync(client, $"/api/etl/runs/{second}/changes/users?kind=changed")).GetProperty("users")[0];
        Assert.Equal(1, renamed.GetProperty("user_id").GetInt32());
        Assert.Equal("Alice", renamed.GetProperty("before").GetProperty("name").GetString());
        Assert.Equal("Alicia", renamed.GetProperty("after").GetProperty("name").GetString());
        var judy = (await GetAsync(client, $"/api/etl/runs/{second}/changes/users?kind=fav_compound_changed")).GetProperty("users")[0];
        Assert.Equal(10, judy.GetProperty("user_id").GetInt32());
        Assert.Equal(1, judy.GetProperty("before").GetProperty("fav_compound_id").GetInt32());
        Assert.Equal("Compound A", judy.GetProperty("before").GetProperty("fav_compound_name").GetString());
        Assert.Equal(JsonValueKind.Null, judy.GetProperty("after").GetProperty("fav_compound_id").ValueKind);
        Assert.Equal(0, judy.GetProperty("after").GetProperty("experiment_count").GetInt32());
        Assert.Equal("2,10", await IdsAsync(client, second, "users", "count_changed"));
        var added = (await GetAsync(client, $"/api/etl/runs/{second}/changes/experiments?kind=added")).GetProperty("experiments")[0];
        Assert.Equal("[1,3]", added.GetProperty("after").GetProperty("compound_ids").GetRawText());
        Assert.Equal(JsonValueKind.Null, added.GetProperty("before").ValueKind);
        Assert.Equal("11", await IdsAsync(client, second, "experiments", "removed"));
        Assert.Equal("", await IdsAsync(client, second, "compounds", "changed"));

        var history = (await GetAsync(client, "/api/history")).GetProperty("loads");
        Assert.Equal([second, first], history.EnumerateArray().Select(l => l.GetProperty("run_id").GetString()!));
        Assert.Equal(9, history[0].GetProperty("active_users").GetInt64());
        Assert.Equal(1, history[0].GetProperty("changes").GetProperty("fav_compound_changed").GetInt64());
    }

    [Fact]
    public async Task Lists_longer_than_the_limit_and_lists_of_older_loads_answer_410_while_their_counts_stay()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.SqliteFile, files.Directory,
            new Dictionary<string, string> { ["ETL_CHANGE_LIST_LIMIT"] = "5", ["ETL_CHANGE_LISTS_KEPT"] = "2" });
        var client = app.CreateClient();
        var first = await LoadAsync(client);

        // 10 users and 11 experiments added: longer than 5; 3 compounds: kept.
        var tooLong = await client.GetAsync($"/api/etl/runs/{first}/changes/users?kind=added");
        Assert.Equal(HttpStatusCode.Gone, tooLong.StatusCode);
        Assert.Contains("ETL_CHANGE_LIST_LIMIT", (await tooLong.ReadJsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("1,2,3", await IdsAsync(client, first, "compounds", "added"));
        Assert.Equal("added=10 removed=0 changed=0 unchanged=0", Counts(await GetAsync(client, $"/api/etl/runs/{first}/changes"), "users"));
        var history = (await GetAsync(client, "/api/history")).GetProperty("loads");
        Assert.Equal("users,experiments", string.Join(",", history[0].GetProperty("unlisted").EnumerateArray().Select(t => t.GetString())));

        // Two more loads: the first one's lists are no longer kept, its counts are.
        await LoadAsync(client);
        await LoadAsync(client);
        var expired = await client.GetAsync($"/api/etl/runs/{first}/changes/compounds?kind=added");
        Assert.Equal(HttpStatusCode.Gone, expired.StatusCode);
        Assert.Contains("ETL_CHANGE_LISTS_KEPT", (await expired.ReadJsonAsync()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal("added=3 removed=0 changed=0 unchanged=0", Counts(await GetAsync(client, $"/api/etl/runs/{first}/changes"), "compounds"));
        Assert.Equal(3, (await GetAsync(client, "/api/history")).GetProperty("loads").GetArrayLength());
    }

    [Theory]
    [InlineData(Backend.SqliteFile)]
    [InlineData(Backend.Postgres)]
    public async Task The_first_load_after_an_upgrade_compares_experiments_stored_in_the_listed_order_as_sets(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        var first = await LoadAsync(client);

        // What a version without change tracking left: id lists in the order listed, no users' fingerprints, no history,
        // and no comparison state.
        var options = app.Services.GetRequiredService<ExperimentEtl.Configuration.EtlOptions>();
        File.Delete(new ExperimentEtl.Pipeline.LoadPlanner(app.Services.GetRequiredService<IEtlStore>(), options.ChangeApply, options.MemoryBudget).StatePath!);
        if (backend == Backend.Postgres)
        {
            await using var command = app.Services.GetRequiredService<NpgsqlDataSource>().CreateCommand("""
                DO $$ BEGIN EXECUTE format('UPDATE etl_gen_%1$s.experiments SET compound_ids = ARRAY(SELECT unnest(compound_ids) ORDER BY 1 DESC);
                    ALTER TABLE etl_gen_%1$s.user_features DROP COLUMN row_fingerprint, DROP COLUMN experiments_fingerprint',
                    (SELECT generation FROM data_generation)); END $$;
                DELETE FROM load_history;
                """);
            await command.ExecuteNonQueryAsync();
        }
        else
        {
            await using var connection = await app.Services.GetRequiredService<IEtlStore>().OpenReadConnectionAsync(CancellationToken.None);
            await using var command = connection.CreateCommand();
            command.CommandText = """
                UPDATE experiments SET compound_ids = '2;1' WHERE compound_ids = '1;2'; UPDATE experiments SET compound_ids = '3;1;2' WHERE compound_ids = '1;2;3';
                ALTER TABLE user_features DROP COLUMN row_fingerprint; ALTER TABLE user_features DROP COLUMN experiments_fingerprint;
                DELETE FROM load_history;
                """;
            await command.ExecuteNonQueryAsync();
        }

        // Compared whole, by joining: only the experiment whose run time was edited differs.
        files.Write("user_experiments.csv", File.ReadAllText(Path.Combine(files.Directory, "user_experiments.csv")).Replace("11,\t10,\t1;3,\t60", "11,\t10,\t3;1,\t61", StringComparison.Ordinal));
        var second = await LoadAsync(client);
        var change = await GetAsync(client, $"/api/etl/runs/{second}/changes");
        Assert.Equal(first, change.GetProperty("previous_run_id").GetString());
        Assert.Equal("added=0 removed=0 changed=1 unchanged=10", Counts(change, "experiments"));
        Assert.Equal("11", await IdsAsync(client, second, "experiments", "changed"));
        Assert.Equal("added=0 removed=0 changed=0 unchanged=10", Counts(change, "users"));

        // The next load compares by fingerprints again: the same files change nothing.
        var third = await LoadAsync(client);
        var again = await GetAsync(client, $"/api/etl/runs/{third}/changes");
        Assert.Equal("added=0 removed=0 changed=0 unchanged=11", Counts(again, "experiments"));
        Assert.Equal("added=0 removed=0 changed=0 unchanged=10", Counts(again, "users"));
    }
}
