using System.Net;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace ExperimentEtl.Tests.Http;

/// <summary>Response headers, refused API keys in the log, and readiness at shutdown.</summary>
public sealed class HardeningTests
{
    const string Policy = "default-src 'self'";

    [Fact]
    public async Task Every_answer_says_nosniff_and_carries_a_content_security_policy_that_allows_inline_code_only_to_the_API_reference()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory, new Dictionary<string, string> { ["API_KEY"] = "the-key" });
        var client = app.CreateClient();

        var answers = new Dictionary<string, HttpResponseMessage>
        {
            ["/"] = await client.GetAsync("/"),
            ["/app.js"] = await client.GetAsync("/app.js"),
            ["/api/summary"] = await client.GetAsync("/api/summary"),
            ["/api/users?q=%00 (400)"] = await client.GetAsync("/api/users?q=%00"),
            ["POST /api/etl/runs without the key (401)"] = await client.PostAsync("/api/etl/runs", null),
            ["/no-such-thing (404)"] = await client.GetAsync("/no-such-thing"),
            ["/openapi/v1.json"] = await client.GetAsync("/openapi/v1.json"),
            ["/docs"] = await client.GetAsync("/docs"),
        };

        foreach (var (what, answer) in answers)
        {
            Assert.True(answer.Headers.TryGetValues("X-Content-Type-Options", out var nosniff) && nosniff.Single() == "nosniff", $"{what}: no nosniff");
            var csp = answer.Headers.TryGetValues("Content-Security-Policy", out var values) ? values.Single() : null;
            Assert.True(csp?.StartsWith(Policy, StringComparison.Ordinal) == true, $"{what}: CSP {csp}");
            // Only the API reference (Scalar) may run inline code.
            Assert.Equal(what == "/docs", csp.Contains("'unsafe-inline'", StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task A_refused_API_key_is_logged_with_the_address_and_path_but_never_the_key()
    {
        const string key = "the-real-key-4242";
        const string attempt = "a-guessed-key-1717";
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory, new Dictionary<string, string> { ["API_KEY"] = key });

        var refused = await app.Server.SendAsync(context =>
        {
            context.Request.Method = "POST";
            context.Request.Path = "/api/etl/runs";
            context.Request.Headers["X-Api-Key"] = attempt;
            context.Connection.RemoteIpAddress = IPAddress.Parse("192.0.2.7");
        });
        var accepted = await app.Server.SendAsync(context =>
        {
            context.Request.Method = "GET";
            context.Request.Path = "/setup_test_db";
            context.Request.Headers["X-Api-Key"] = key;
        });

        Assert.Equal(StatusCodes.Status401Unauthorized, refused.Response.StatusCode);
        Assert.Equal(StatusCodes.Status200OK, accepted.Response.StatusCode);
        var logged = Assert.Single(app.Logs.Entries, entry => entry.Message.Contains("192.0.2.7", StringComparison.Ordinal));
        Assert.Equal(LogLevel.Warning, logged.Level);
        Assert.Contains("/api/etl/runs", logged.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(app.Logs.Entries, entry => entry.Message.Contains(attempt, StringComparison.Ordinal) || entry.Message.Contains(key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Readiness_answers_503_from_the_start_of_shutdown_while_liveness_stays_200()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/readyz")).StatusCode);

        // Asked from inside shutdown: ApplicationStopping has fired (as on SIGTERM) and the server has not stopped yet.
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        (HttpStatusCode Status, string Body)? ready = null;
        HttpStatusCode? live = null;
        using (lifetime.ApplicationStopping.Register(() =>
        {
            using var readiness = client.GetAsync("/readyz").GetAwaiter().GetResult();
            ready = (readiness.StatusCode, readiness.Content.ReadAsStringAsync().GetAwaiter().GetResult());
            live = client.GetAsync("/healthz").GetAwaiter().GetResult().StatusCode;
        }))
        {
            lifetime.StopApplication(); // Runs the callbacks before it returns.
        }

        Assert.Equal(HttpStatusCode.ServiceUnavailable, ready?.Status);
        Assert.Contains("shutting down", ready?.Body, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, live);
    }
}
