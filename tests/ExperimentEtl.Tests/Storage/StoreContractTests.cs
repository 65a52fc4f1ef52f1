using System.Globalization;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Storage;

/// <summary>What every store promises (<see cref="IEtlStore"/>), checked on each backend with the store constructed directly.</summary>
public sealed class StoreContractTests
{
    /// <summary>The data set a reader sees now: its user count and the first user's name.</summary>
    static async Task<(long? Users, string? FirstName)> ReadAsync(IEtlStore store)
    {
        await using var report = await store.OpenReportAsync(CancellationToken.None);
        await foreach (var user in report.ReadUsersAsync(CancellationToken.None))
        {
            return (report.Summary?.Users, user.Name);
        }
        return (report.Summary?.Users, null);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_load_is_invisible_until_its_commit(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        using (var first = test.Store.BeginLoad())
        {
            TestStore.Load(first, "A", users: 2);
        }
        Assert.Equal((2L, "A 1"), await ReadAsync(test.Store));

        using var load = test.Store.BeginLoad();
        using var features = TestStore.WriteTables(load, "B", users: 3);
        Assert.Equal((2L, "A 1"), await ReadAsync(test.Store));

        TestStore.Commit(load, features);
        Assert.Equal((3L, "B 1"), await ReadAsync(test.Store));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_load_disposed_without_its_commit_leaves_the_previous_data_set(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        using (var first = test.Store.BeginLoad())
        {
            TestStore.Load(first, "A", users: 2);
        }

        using (var abandoned = test.Store.BeginLoad())
        {
            TestStore.WriteTables(abandoned, "B", users: 3).Dispose();
        }

        Assert.Equal((2L, "A 1"), await ReadAsync(test.Store));
        // And the database is free for the next load.
        using (var next = test.Store.BeginLoad())
        {
            TestStore.Load(next, "C", users: 4);
        }
        Assert.Equal((4L, "C 1"), await ReadAsync(test.Store));
    }

    [Theory]
    [MemberData(nameof(Backends.Servers), MemberType = typeof(Backends))]
    public async Task A_second_load_while_one_is_open_is_refused_on_a_database_server(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        using (var open = test.Store.BeginLoad())
        {
            Assert.Throws<RunInProgressException>(test.Store.BeginLoad);
        }
        // The lock goes with the load.
        using var next = test.Store.BeginLoad();
        TestStore.Load(next, "A", users: 1);
    }

    [Theory]
    [InlineData(Backend.Sqlite)]
    [InlineData(Backend.SqliteFile)]
    public async Task On_sqlite_a_second_load_waits_to_write_until_the_first_ends(Backend backend)
    {
        // SQLite has no load lock of its own: one process uses the file, and its RunManager starts one run at a time.
        // What the store guarantees is that a second load cannot write while the first is open (SQLite's write lock).
        await using var test = await TestStore.CreateAsync(backend);
        var first = test.Store.BeginLoad();
        var firstFeatures = TestStore.WriteTables(first, "A", users: 2);
        using var second = test.Store.BeginLoad();
        var writing = Task.Run(() => TestStore.WriteTables(second, "B", users: 3));

        await Task.Delay(TimeSpan.FromMilliseconds(500));
        Assert.False(writing.IsCompleted);

        first.Dispose();
        firstFeatures.Dispose();
        using var features = await writing.WaitAsync(TimeSpan.FromSeconds(30));
        TestStore.Commit(second, features);
        Assert.Equal((3L, "B 1"), await ReadAsync(test.Store));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Runs_are_listed_newest_first_a_page_at_a_time(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        var start = DateTimeOffset.UtcNow;
        var runs = Enumerable.Range(0, 5)
            .Select(i => RunRecord.Queue(start.AddSeconds(i), RunMode.Strict, RunSource.DataFolder) with { Status = RunStatus.Succeeded })
            .ToList();
        foreach (var run in runs)
        {
            await test.Store.SaveRunAsync(run, CancellationToken.None);
        }

        var pages = new List<List<Guid>>();
        Guid? before = null;
        for (var page = 0; page < 4; page++)
        {
            var ids = (await test.Store.ListRunsAsync(2, before, CancellationToken.None)).Select(r => r.RunId).ToList();
            pages.Add(ids);
            if (ids.Count == 0)
            {
                break;
            }
            before = ids[^1];
        }

        Assert.Equal(
            [[runs[4].RunId, runs[3].RunId], [runs[2].RunId, runs[1].RunId], [runs[0].RunId], []],
            pages);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_abandoned_run_sweep_fails_a_quiet_run_and_leaves_one_that_changed_lately(Backend backend)
    {
        await using var test = await TestStore.CreateAsync(backend);
        var quiet = RunRecord.Queue(DateTimeOffset.UtcNow, RunMode.Strict, RunSource.DataFolder) with { Status = RunStatus.Running };
        var recent = RunRecord.Queue(DateTimeOffset.UtcNow.AddMilliseconds(1), RunMode.Strict, RunSource.DataFolder) with { Status = RunStatus.Running };
        await test.Store.SaveRunAsync(quiet, CancellationToken.None);
        await test.Store.SaveRunAsync(recent, CancellationToken.None);
        // The quiet run's record last changed an hour ago.
        var hourAgo = DateTimeOffset.UtcNow.AddHours(-1).ToString("O", CultureInfo.InvariantCulture);
        await test.ExecuteAsync(
            $"UPDATE runs SET updated_at = now() - interval '1 hour' WHERE run_id = '{quiet.RunId}'",
            $"UPDATE runs SET updated_at = '{hourAgo}' WHERE run_id = '{quiet.RunId}'");

        var failed = await test.Store.FailAbandonedRunsAsync("abandoned", DateTimeOffset.UtcNow, TimeSpan.FromMinutes(10), CancellationToken.None);

        Assert.Equal(1, failed);
        Assert.Equal(("failed", "abandoned"), await StatusAsync(quiet.RunId));
        Assert.Equal(("running", null), await StatusAsync(recent.RunId));

        async Task<(string?, string?)> StatusAsync(Guid id) =>
            await test.Store.GetRunAsync(id, CancellationToken.None) is { } run ? (run.Status, run.Message) : (null, null);
    }
}
