using System.Globalization;
using System.Net;
using System.Text;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>A SQLite database on a disk that fills up: the run fails cleanly and the space comes back.</summary>
public sealed class DiskFullTests
{
    static string ManyUsers(int count)
    {
        var users = new StringBuilder("user_id,name,email,signup_date\n");
        for (var id = 1; id <= count; id++)
        {
            users.Append(CultureInfo.InvariantCulture, $"{id},{new string('n', 100)},user{id}@example.com,2024-01-01\n");
        }
        return users.ToString();
    }

    [Theory]
    [InlineData("full")]
    [InlineData("changes")]
    public async Task A_load_that_fills_the_disk_fails_with_503_keeps_the_previous_data_and_gives_the_space_back(string apply)
    {
        await using var disk = await SmallDisk.MountAsync(megabytes: 4);
        var database = Path.Combine(disk.Path, "experiments.db");
        using var files = TestFiles.BundledSample();
        // "changes": the reload applies the 60,000 new users as changes, whatever their share.
        await using var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory,
            new Dictionary<string, string> { ["ETL_APPLY_CHANGES_UP_TO"] = apply == "full" ? "0" : "1" });
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);
        var usedBefore = disk.UsedBytes;

        files.Write("users.csv", ManyUsers(60_000)); // About 8 MB of rows: twice the disk.
        var full = await client.GetAsync("/csv");

        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        Assert.Contains("full", await full.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        // The failed transaction's log is emptied: the disk is as full as before the run, not at 100 %.
        Assert.InRange(disk.UsedBytes, 0, usedBefore + 256 * 1024);
        var summary = await (await client.GetAsync("/api/summary")).ReadJsonAsync();
        Assert.Equal(10, summary.GetProperty("users").GetInt64());

        // And the next run that fits succeeds.
        using var small = TestFiles.BundledSample();
        files.Write("users.csv", File.ReadAllText(Path.Combine(small.Directory, "users.csv")));
        var next = await client.GetAsync("/csv");
        Assert.Equal(HttpStatusCode.OK, next.StatusCode);
        Assert.Equal(apply, (await next.ReadJsonAsync()).GetProperty("apply").GetString());
    }

    [Fact]
    public async Task After_a_load_the_write_ahead_log_is_emptied()
    {
        using var files = TestFiles.BundledSample();
        files.Write("users.csv", ManyUsers(20_000));
        files.Write("user_experiments.csv", "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n1,1,1,5\n");
        var folder = Directory.CreateTempSubdirectory("etl-test-wal-").FullName;
        var database = Path.Combine(folder, "experiments.db");
        await using (var app = await EtlAppFactory.CreateWithDatabaseAsync(database, files.Directory))
        {
            Assert.Equal(HttpStatusCode.OK, (await app.CreateClient().GetAsync("/csv")).StatusCode);
            // Without the checkpoint the log keeps the size of the load (about 3 MB here) until the process exits.
            // No log at all is empty too: SQLite deletes it when the last connection closes, which another test's
            // ClearAllPools (process-wide) brings about at any moment of the suite.
            var wal = new FileInfo(database + "-wal");
            Assert.InRange(wal.Exists ? wal.Length : 0, 0, 64 * 1024);
        }
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        Directory.Delete(folder, recursive: true);
    }
}
