using System.Globalization;
using System.Net;
using System.Text;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>
/// A few thousand random rows through each database's bulk path (COPY, several-row SQLite inserts, their
/// remainders) and back through /report and /api/users, checked against features computed here with LINQ.
/// </summary>
public sealed class GeneratedDataTests
{
    sealed record Experiment(int Id, int UserId, int[] CompoundIds);

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Report_and_users_match_an_independent_computation(Backend backend)
    {
        // Counts that are not multiples of a batch size, some users without experiments, a few users running most.
        var random = new Random(20261126);
        var userIds = Enumerable.Range(1, 503).ToArray();
        var compoundIds = Enumerable.Range(1, 61).Select(i => i * 3).ToArray();
        var experiments = Enumerable.Range(1, 3001).Select(id => new Experiment(
            id,
            random.Next(4) == 0 ? userIds[random.Next(10)] : userIds[random.Next(userIds.Length - 50)],
            [.. compoundIds.OrderBy(_ => random.Next()).Take(1 + random.Next(4))])).ToList();
        using var files = new TestFiles(
            "user_id,name,email,signup_date\n" + string.Join("\n", userIds.Select(u => $"{u},User {u},u{u}@example.com,2024-01-01")),
            "compound_id,compound_name,compound_structure\n" + string.Join("\n", compoundIds.Select(c => $"{c},Compound {c},C{c}")),
            "experiment_id,user_id,experiment_compound_ids,experiment_run_time\n" +
                string.Join("\n", experiments.Select(e => $"{e.Id},{e.UserId},{string.Join(';', e.CompoundIds)},{e.Id % 97}")));
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        // Per user: experiments, and every compound tied for the most experiments (the favourite is the lowest id).
        var expected = userIds.ToDictionary(u => u, u =>
        {
            var own = experiments.Where(e => e.UserId == u).ToList();
            var counts = own.SelectMany(e => e.CompoundIds).GroupBy(c => c).Select(g => (Compound: g.Key, Count: g.Count())).ToList();
            var best = counts.Count == 0 ? 0 : counts.Max(c => c.Count);
            return (Experiments: own.Count, Ties: counts.Where(c => c.Count == best).Select(c => c.Compound).Order().ToList());
        });
        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        Assert.Equal(3001.0 / userIds.Length, report.GetProperty("average_experiment_count").GetDouble(), 10);
        Assert.Equal(3001.0 / expected.Values.Count(v => v.Experiments > 0), report.GetProperty("average_experiment_count_active_users").GetDouble(), 10);
        var lines = report.GetProperty("user_reports").EnumerateArray().ToList();
        Assert.Equal(userIds, lines.Select(u => u.GetProperty("user_id").GetInt32()));
        foreach (var line in lines)
        {
            var (count, ties) = expected[line.GetProperty("user_id").GetInt32()];
            var favorite = ties.Count == 0 ? (int?)null : ties[0];
            Assert.Equal(
                (count, favorite, favorite is { } id ? $"Compound {id}" : null),
                (line.GetProperty("count").GetInt32(), IntOrNull(line.GetProperty("fav_compound_id")), line.GetProperty("fav_compound").GetString()));
        }

        var listed = new StringBuilder();
        for (string? next = "/api/users?limit=200"; next is not null;)
        {
            var page = await (await client.GetAsync(next)).ReadJsonAsync();
            foreach (var user in page.GetProperty("users").EnumerateArray())
            {
                var id = user.GetProperty("user_id").GetInt32();
                Assert.Equal(expected[id].Ties, user.GetProperty("tied_favorites").EnumerateArray().Select(c => c.GetProperty("compound_id").GetInt32()));
                listed.Append(id.ToString(CultureInfo.InvariantCulture)).Append(' ');
            }
            next = page.GetProperty("next").GetString();
        }
        Assert.Equal(string.Join(' ', userIds) + " ", listed.ToString());
    }

    static int? IntOrNull(System.Text.Json.JsonElement value) => value.ValueKind == System.Text.Json.JsonValueKind.Null ? null : value.GetInt32();
}
