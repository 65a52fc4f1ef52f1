using System.Net;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ExperimentEtl.Tests.Http;

/// <summary>What a client and an operator see when something goes wrong: the answer, and what the log keeps.</summary>
public sealed class FaultTests
{
    /// <summary>A route that fails the way a bug does, added to the real pipeline after everything the app maps.</summary>
    sealed class FailingRoute : Microsoft.AspNetCore.Hosting.IStartupFilter
    {
        public const string Path = "/test/unexpected-failure";
        public const string Message = "a bug the test planted";

        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            next(app);
            app.Map(Path, branch => branch.Run(_ => throw new InvalidOperationException(Message)));
        };
    }

    [Fact]
    public async Task An_unexpected_500_is_logged_with_its_exception_and_the_answer_shows_no_trace_of_it()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        using var failing = app.WithWebHostBuilder(builder =>
            builder.ConfigureTestServices(services => services.AddSingleton<Microsoft.AspNetCore.Hosting.IStartupFilter, FailingRoute>()));

        var response = await failing.CreateClient().GetAsync(FailingRoute.Path);

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(FailingRoute.Message, await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        var logged = Assert.Single(app.Logs.Entries, entry => entry.Exception is InvalidOperationException { Message: FailingRoute.Message });
        Assert.Equal(LogLevel.Error, logged.Level);
        Assert.Contains(FailingRoute.Path, logged.Message, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_NUL_in_the_user_search_is_a_400_naming_the_parameter(Backend backend)
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(backend, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        var response = await client.GetAsync("/api/users?q=%00");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.ReadJsonAsync()).GetProperty("errors");
        Assert.Equal(["q"], errors.EnumerateObject().Select(property => property.Name));
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync("/api/users?q=Al%00ice")).StatusCode);
        // Text that is merely unusual still searches.
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/users?q=%C3%A9%F0%9F%A7%AA")).StatusCode);
    }

    [Fact]
    public async Task A_parameter_that_does_not_parse_is_a_400_not_an_error_in_the_log()
    {
        using var files = TestFiles.BundledSample();
        // The test host runs as Development, where ASP.NET Core throws on a parameter it cannot bind instead of answering 400.
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();

        foreach (var path in new[] { "/api/users?limit=abc", "/api/etl/runs?before=nope", "/api/compounds?after=1.5" })
        {
            var response = await client.GetAsync(path);
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: HTTP {(int)response.StatusCode}");
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        Assert.DoesNotContain(app.Logs.Entries, entry => entry.Level >= LogLevel.Error);
    }

    static MultipartFormDataContent Upload(string users)
    {
        var form = new MultipartFormDataContent();
        form.Add(new StringContent(users), "users", "users.csv");
        form.Add(new StringContent(TestFiles.SeedExperiments), "user_experiments", "user_experiments.csv");
        form.Add(new StringContent(TestFiles.SeedCompounds), "compounds", "compounds.csv");
        return form;
    }

    [Fact]
    public async Task An_upload_that_fills_the_disk_is_a_507_that_names_no_path_and_leaves_nothing_behind()
    {
        await using var disk = await SmallDisk.MountAsync(megabytes: 2);
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory, new Dictionary<string, string> { ["ETL_UPLOAD_DIR"] = disk.Path });
        var client = app.CreateClient();
        // About 3 MB of valid users: more than the disk holds.
        var users = new System.Text.StringBuilder("user_id,name,email,signup_date\n");
        for (var id = 1; users.Length < 3_000_000; id++)
        {
            users.Append(System.Globalization.CultureInfo.InvariantCulture, $"{id},User {id},user{id}@example.com,2024-01-01\n");
        }

        var response = await client.PostAsync("/api/etl/runs?wait=true", Upload(users.ToString()));

        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.InsufficientStorage, $"HTTP {(int)response.StatusCode}: {body}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("nothing was loaded", body, StringComparison.Ordinal);
        Assert.DoesNotContain(disk.Path, body, StringComparison.Ordinal);
        Assert.DoesNotContain("/tmp", body, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(disk.Path));
        // The operator finds the path in the log instead.
        Assert.Contains(app.Logs.Entries, entry => entry.Level == LogLevel.Warning && entry.Message.Contains(disk.Path, StringComparison.Ordinal));
        // Nothing was loaded, and with the space back a small upload loads.
        Assert.Equal(0, (await (await client.GetAsync("/api/summary")).ReadJsonAsync()).GetProperty("users").GetInt64());
        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/etl/runs?wait=true", Upload(TestFiles.SeedUsers))).StatusCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(disk.Path));
    }
}
