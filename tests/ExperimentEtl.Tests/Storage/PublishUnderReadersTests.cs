using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Storage;

/// <summary>
/// Loads that publish while many clients read: no reader fails or sees anything but the previous or the next data set
/// (the PostgreSQL swap of issue 17 aborted pages with "deadlock detected").
/// </summary>
public sealed class PublishUnderReadersTests
{
    const int Users = 2000;
    const int Readers = 32;
    const int Loads = 4;

    /// <remarks>
    /// Not on Citus: its readers have pinned generations since it was added (CitusStoreTests and PostgresStoreTests
    /// cover a reader across a publish there), and under 32 readers on this 2-core machine one Citus load itself failed
    /// with 503 in a CI run (not yet diagnosed; see the closing note of 2026-12-05). Included here it passed 6 runs of 6
    /// on 2026-12-05 (load average 7–66, loads 23–39 s); the same 503 follows when the workers refuse connections
    /// ("08006 … sorry, too many clients already": workers at max_connections=20 against the 38–49 a worker this test opens).
    /// </remarks>
    [Theory]
    [InlineData(Backend.Sqlite)]
    [InlineData(Backend.SqliteFile)]
    [InlineData(Backend.Postgres)]
    public async Task Loads_publishing_under_32_readers_fail_no_reader_and_each_answer_is_the_old_or_the_new_data_set(Backend backend)
    {
        // Two data sets of the same users: every user ran 2 experiments in one, 3 in the other.
        using var files = new TestFiles(UsersCsv(), TestFiles.SeedCompounds, ExperimentsCsv(2));
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        using var loadsDone = new CancellationTokenSource();
        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var seen = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        var readers = Enumerable.Range(0, Readers).Select(reader => Task.Run(async () =>
        {
            var random = new Random(reader);
            var deadline = DateTime.UtcNow.AddMinutes(3);
            // Bounded: until the loads are done (and at least 10 requests), 3,000 requests or 3 minutes.
            for (var i = 0; i < 3000 && (i < 10 || !loadsDone.IsCancellationRequested) && DateTime.UtcNow < deadline; i++)
            {
                var path = ((reader + i) % 4) switch
                {
                    0 => "/api/summary",
                    1 => "/report",
                    _ => $"/api/users?limit=100&after={random.Next(0, Users)}",
                };
                using var response = await client.GetAsync(path);
                var body = await response.Content.ReadAsStringAsync();
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    failures.Add($"{path}: {(int)response.StatusCode} {body}");
                    continue;
                }
                var dataSet = DataSetOf(path, body);
                seen.AddOrUpdate(dataSet, 1, (_, n) => n + 1);
            }
        })).ToList();

        for (var load = 0; load < Loads; load++)
        {
            files.Write("user_experiments.csv", ExperimentsCsv(load % 2 == 0 ? 3 : 2));
            using var run = await client.GetAsync("/csv");
            // The answer's problem details say why a load failed (a 503 of a Citus load in CI was never diagnosed).
            Assert.True(run.StatusCode == HttpStatusCode.OK, $"load {load}: {(int)run.StatusCode} {await run.Content.ReadAsStringAsync()}");
        }
        await loadsDone.CancelAsync();
        await Task.WhenAll(readers);

        Assert.Empty(failures);
        Assert.Equal(["2 experiments a user", "3 experiments a user"], seen.Keys.Order());
    }

    /// <summary>Which data set an answer comes from; fails the reader on an answer that mixes them.</summary>
    static string DataSetOf(string path, string body)
    {
        using var json = JsonDocument.Parse(body);
        var root = json.RootElement;
        int[] perUser;
        if (path == "/api/summary")
        {
            Assert.Equal(Users, root.GetProperty("users").GetInt64());
            perUser = [(int)(root.GetProperty("experiments").GetInt64() / Users)];
            Assert.Equal(Users * perUser[0], root.GetProperty("experiments").GetInt64());
        }
        else if (path == "/report")
        {
            perUser = [.. root.GetProperty("user_reports").EnumerateArray().Select(u => u.GetProperty("count").GetInt32())];
            Assert.Equal(Users, perUser.Length);
        }
        else
        {
            perUser = [.. root.GetProperty("users").EnumerateArray().Select(u => u.GetProperty("total_experiments").GetInt32())];
        }
        var distinct = perUser.Distinct().ToList();
        Assert.True(distinct.Count <= 1, $"{path} mixed data sets: {string.Join(", ", distinct)}");
        return distinct.Count == 0 ? "no users" : $"{distinct[0]} experiments a user";
    }

    static string UsersCsv()
    {
        var csv = new StringBuilder("user_id,name,email,signup_date\n");
        for (var id = 1; id <= Users; id++)
        {
            csv.Append(CultureInfo.InvariantCulture, $"{id},User {id},user{id}@example.com,2023-01-01\n");
        }
        return csv.ToString();
    }

    static string ExperimentsCsv(int perUser)
    {
        var csv = new StringBuilder("experiment_id,user_id,experiment_compound_ids,experiment_run_time\n");
        var id = 0;
        for (var user = 1; user <= Users; user++)
        {
            for (var n = 0; n < perUser; n++)
            {
                csv.Append(CultureInfo.InvariantCulture, $"{++id},{user},{1 + (n % 2)},10\n");
            }
        }
        return csv.ToString();
    }
}
