using System.Net;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

public sealed class HealthTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Health_and_readiness_answer_200_on_a_working_database(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();

        Assert.Equal("ok", (await (await client.GetAsync("/healthz")).ReadJsonAsync()).GetProperty("status").GetString());
        var ready = await client.GetAsync("/readyz");
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        Assert.Equal(backend switch { Backend.Postgres => "postgresql", Backend.Citus => "citus", _ => "sqlite" }, (await ready.ReadJsonAsync()).GetProperty("database").GetString());
    }

    [Fact]
    public async Task Unknown_paths_answer_problem_details()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var response = await app.CreateClient().GetAsync("/no-such-thing");
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }
}
