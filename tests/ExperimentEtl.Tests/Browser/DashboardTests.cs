using ExperimentEtl.Tests.Infrastructure;
using Microsoft.Playwright;

namespace ExperimentEtl.Tests.Browser;

/// <summary>
/// The dashboard at <c>/</c> in a real browser: Debian's headless Chromium, driven by Playwright, against the real
/// service running as a process over a SQLite file and the bundled sample. No browser is downloaded: the machine
/// has no internet, so Playwright is pointed at <c>/usr/bin/chromium</c>, or <c>CHROMIUM</c> when set (scripts/test.sh
/// installs it when missing).
/// </summary>
public sealed class DashboardTests
{
    static readonly string ChromiumPath = Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } path ? path : "/usr/bin/chromium";
    const float WaitMs = 30_000;

    static readonly string[] ChromiumArgs =
    [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
    ];

    // The bundled users.csv with a date that does not exist on line 3 (Bob).
    const string UsersWithBadDate =
        "user_id,\tname,\temail,\tsignup_date\n1,\tAlice,\talice@example.com,\t2023-01-01\n2,\tBob,\tbob@example.com,\t2023-13-01\n";

    // Every canvas has a chart with data and has painted pixels.
    const string ChartsDrawn = """
        () => ['chart-users', 'chart-compounds', 'chart-histogram'].every(id => {
            const canvas = document.getElementById(id);
            const chart = window.Chart && window.Chart.getChart(canvas);
            if (!chart || !chart.data.datasets[0].data.some(v => v > 0) || canvas.width === 0 || canvas.height === 0) return false;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        })
        """;

    [Fact]
    public async Task Dashboard_runs_the_ETL_shows_charts_and_users_and_lists_upload_errors_by_line()
    {
        Assert.True(File.Exists(ChromiumPath), $"{ChromiumPath} is missing: apt-get install chromium (scripts/test.sh does).");
        Assertions.SetDefaultExpectTimeout(WaitMs);

        using var data = TestFiles.BundledSample();
        var work = Directory.CreateTempSubdirectory("etl-dashboard-test-");
        try
        {
            await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
            {
                ["DATABASE_URL"] = Path.Combine(work.FullName, "dashboard.db"),
                ["ETL_DATA_DIR"] = data.Directory,
                ["Logging__LogLevel__Default"] = "Warning",
            });
            using var playwright = await Playwright.CreateAsync();
            await using var browser = await playwright.Chromium.LaunchAsync(new()
            {
                ExecutablePath = ChromiumPath,
                Headless = true,
                Args = ChromiumArgs,
                Timeout = WaitMs,
            });
            await using var context = await browser.NewContextAsync(new()
            {
                BaseURL = server.Address.ToString(),
                ViewportSize = new() { Width = 1280, Height = 900 },
            });
            // CSP violations also reach the console as errors; this names the directive and what it blocked.
            await context.AddInitScriptAsync("""
                document.addEventListener('securitypolicyviolation', e =>
                    console.error(`CSP violation: ${e.violatedDirective} blocked ${e.blockedURI || 'inline code'} in ${e.sourceFile}:${e.lineNumber}`));
                """);
            var page = await context.NewPageAsync();
            page.SetDefaultTimeout(WaitMs);
            var browserErrors = new List<string>();
            page.Console += (_, message) =>
            {
                if (message.Type == "error" && !IsScalarEvalProbe(message.Text) && !IsStagedRefusal(message))
                {
                    lock (browserErrors)
                    {
                        browserErrors.Add(message.Text);
                    }
                }
            };
            page.PageError += (_, error) =>
            {
                lock (browserErrors)
                {
                    browserErrors.Add(error);
                }
            };

            try
            {
                await DriveAsync(page, work.FullName);
                await ApiReferenceAsync(page);
            }
            catch (Exception e) when (e is PlaywrightException or TimeoutException or Xunit.Sdk.XunitException)
            {
                // The page as it was when the test gave up, next to the test binaries.
                var failure = Path.Combine(AppContext.BaseDirectory, "dashboard-failure.png");
                await page.ScreenshotAsync(new() { Path = failure, FullPage = true });
                throw new Xunit.Sdk.XunitException(
                    $"{e}\n--- screenshot: {failure}\n--- browser errors:\n{string.Join('\n', browserErrors)}\n--- server output:\n{server.Output}");
            }
            lock (browserErrors)
            {
                Assert.True(browserErrors.Count == 0, "The page logged errors:\n" + string.Join('\n', browserErrors));
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>The browser reports the one 503 the test stages for the search "bo" (see DriveAsync).</summary>
    static bool IsStagedRefusal(IConsoleMessage message) =>
        message.Text.StartsWith("Failed to load resource: the server responded with a status of 503", StringComparison.Ordinal) &&
        message.Location.Contains("q=bo", StringComparison.Ordinal);

    /// <summary>
    /// Scalar's bundled Zod tries <c>Function('')</c> inside a try to see whether it may compile validators, and works
    /// without: the policy rightly refuses it, and the browser reports the refusal.
    /// </summary>
    static bool IsScalarEvalProbe(string text) =>
        text.StartsWith("CSP violation: script-src blocked eval in ", StringComparison.Ordinal) && text.Contains("/docs/scalar.js", StringComparison.Ordinal);

    /// <summary>
    /// The API reference renders under its own policy. Its fonts' host is out of reach here: answered with an empty
    /// font, which the browser only warns about, rather than a failed request, which it reports as an error.
    /// </summary>
    static async Task ApiReferenceAsync(IPage page)
    {
        await page.RouteAsync("https://fonts.scalar.com/**", route => route.FulfillAsync(new() { Status = 200, ContentType = "font/woff2", Body = "" }));
        var response = await page.GotoAsync("/docs");
        Assert.StartsWith("default-src 'self'", await response!.HeaderValueAsync("content-security-policy"), StringComparison.Ordinal);
        await Assertions.Expect(page.GetByText("/setup_test_db").First).ToBeVisibleAsync();
    }

    static async Task DriveAsync(IPage page, string work)
    {
        // Before any run: the page says so plainly and offers the run button. It is served under the content security policy.
        var response = await page.GotoAsync("/");
        Assert.StartsWith("default-src 'self'", await response!.HeaderValueAsync("content-security-policy"), StringComparison.Ordinal);
        var empty = page.Locator("#empty-state");
        await Assertions.Expect(empty).ToBeVisibleAsync();
        await Assertions.Expect(empty).ToContainTextAsync("No data yet");
        await Assertions.Expect(page.Locator("#dashboard")).ToBeHiddenAsync();

        // Start a run from the button and follow its progress to the end.
        await empty.GetByRole(AriaRole.Button, new() { Name = "Run on the data folder" }).ClickAsync();
        await Assertions.Expect(page.Locator("#run-status")).ToContainTextAsync("Run succeeded");
        await Assertions.Expect(page.Locator("#run-progress")).ToHaveAttributeAsync("value", "100");
        await Assertions.Expect(empty).ToBeHiddenAsync();

        // The headline figures, the three charts and the table fill in.
        await Assertions.Expect(page.Locator("#fig-users")).ToHaveTextAsync("10");
        await Assertions.Expect(page.Locator("#fig-experiments")).ToHaveTextAsync("11");
        await Assertions.Expect(page.Locator("#fig-compounds")).ToHaveTextAsync("3");
        await Assertions.Expect(page.Locator("#fig-average")).ToHaveTextAsync("1.1");
        await Assertions.Expect(page.Locator("#fig-last-run")).ToContainTextAsync("succeeded");
        await page.WaitForFunctionAsync(ChartsDrawn, null, new() { Timeout = WaitMs, PollingInterval = 100 });
        await Assertions.Expect(page.Locator("#chart-users")).ToHaveAttributeAsync("data-points", "10");
        await Assertions.Expect(page.Locator("#chart-compounds")).ToHaveAttributeAsync("data-points", "3");
        await Assertions.Expect(page.Locator("#chart-histogram")).ToHaveAttributeAsync("data-points", "3"); // bins 0, 1, 2

        var rows = page.Locator("#users-table tbody tr");
        await Assertions.Expect(rows).ToHaveCountAsync(10);
        var alice = rows.Filter(new() { Has = page.Locator("th", new() { HasTextString = "Alice" }) });
        await Assertions.Expect(alice).ToHaveCountAsync(1);
        await Assertions.Expect(alice.Locator("td").Nth(3)).ToHaveTextAsync("2"); // ID, email, signed up, experiments
        await Assertions.Expect(alice.Locator("td").Nth(4)).ToContainTextAsync("Compound B");
        await Assertions.Expect(page.Locator("#page-next")).ToBeDisabledAsync();

        // The README's picture is refreshed on request (ETL_UPDATE_SCREENSHOT=1); otherwise the test leaves the tree as it was.
        var screenshot = Environment.GetEnvironmentVariable("ETL_UPDATE_SCREENSHOT") == "1"
            ? Path.Combine(TestPostgres.RepositoryRoot(), "docs", "images", "dashboard.png")
            : Path.Combine(AppContext.BaseDirectory, "dashboard.png");
        Directory.CreateDirectory(Path.GetDirectoryName(screenshot)!);
        await page.ScreenshotAsync(new() { Path = screenshot, FullPage = true });

        // Search by name (debounced): only Bob contains "bo". The first answer is the 503 of a busy server, which the
        // page waits out (Retry-After) and asks again.
        var refusals = 0;
        await page.RouteAsync("**/api/users?*", async route =>
        {
            if (Interlocked.Increment(ref refusals) == 1)
            {
                await route.FulfillAsync(new()
                {
                    Status = 503,
                    ContentType = "application/problem+json",
                    Headers = new Dictionary<string, string> { ["Retry-After"] = "1" },
                    Body = """{"type":"https://experiment-etl.dev/problems/overloaded","title":"Too many reads at once","status":503}""",
                });
                return;
            }
            await route.ContinueAsync();
        });
        await page.GetByLabel("Search by name").FillAsync("bo");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("Bob");
        Assert.True(refusals >= 2, $"{refusals} requests for users");
        await page.UnrouteAsync("**/api/users?*");

        // Upload an invalid users.csv with the two valid files: the error is listed by file and line.
        var upload = Directory.CreateDirectory(Path.Combine(work, "upload")).FullName;
        await File.WriteAllTextAsync(Path.Combine(upload, "users.csv"), UsersWithBadDate);
        await File.WriteAllTextAsync(Path.Combine(upload, "user_experiments.csv"), "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1;2,\t10\n");
        await File.WriteAllTextAsync(Path.Combine(upload, "compounds.csv"), TestFiles.SeedCompounds);
        var form = page.Locator("#upload-form");
        await form.Locator("input[name=users]").SetInputFilesAsync(Path.Combine(upload, "users.csv"));
        await form.Locator("input[name=user_experiments]").SetInputFilesAsync(Path.Combine(upload, "user_experiments.csv"));
        await form.Locator("input[name=compounds]").SetInputFilesAsync(Path.Combine(upload, "compounds.csv"));
        await form.GetByRole(AriaRole.Button, new() { Name = "Upload and run" }).ClickAsync();

        await Assertions.Expect(page.Locator("#run-status")).ToContainTextAsync("Run failed");
        var errors = page.Locator("#run-errors");
        await Assertions.Expect(errors).ToBeVisibleAsync();
        await Assertions.Expect(errors.Locator("li").First).ToContainTextAsync("users.csv line 3 · signup_date");
        await Assertions.Expect(errors.Locator("h3")).ToContainTextAsync("1 error");
        // Nothing was loaded: the figures and the table still show the previous data.
        await Assertions.Expect(page.Locator("#fig-users")).ToHaveTextAsync("10");
        await Assertions.Expect(page.Locator("#fig-last-run")).ToContainTextAsync("failed");
        await Assertions.Expect(rows).ToHaveCountAsync(1);

        // A name one user in 25,000 holds: each request of the API looks through 10,000 users, and the page asks again
        // until it has found her; a name nobody holds ends with the users.
        var users = new System.Text.StringBuilder("user_id,name,email,signup_date\n");
        for (var id = 1; id <= 25_000; id++)
        {
            users.Append(System.Globalization.CultureInfo.InvariantCulture, $"{id},{(id == 24_000 ? "Zoe Quill" : "User " + id)},u{id}@x,2024-01-02\n");
        }
        await File.WriteAllTextAsync(Path.Combine(upload, "users.csv"), users.ToString());
        await form.Locator("input[name=users]").SetInputFilesAsync(Path.Combine(upload, "users.csv"));
        await form.Locator("input[name=user_experiments]").SetInputFilesAsync(Path.Combine(upload, "user_experiments.csv"));
        await form.Locator("input[name=compounds]").SetInputFilesAsync(Path.Combine(upload, "compounds.csv"));
        await form.GetByRole(AriaRole.Button, new() { Name = "Upload and run" }).ClickAsync();
        await Assertions.Expect(page.Locator("#run-status")).ToContainTextAsync("Run succeeded");
        await Assertions.Expect(page.Locator("#fig-users")).ToHaveTextAsync("25,000");
        await page.GetByLabel("Search by name").FillAsync("quill");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(rows.First).ToContainTextAsync("Zoe Quill");
        await page.GetByLabel("Search by name").FillAsync("nobody");
        await Assertions.Expect(page.Locator("#users-empty")).ToContainTextAsync("No user's name contains “nobody”.");
        await Assertions.Expect(page.Locator("#page-next")).ToBeDisabledAsync();

        // A narrow screen: one column, nothing wider than the viewport.
        await page.SetViewportSizeAsync(390, 844);
        await page.WaitForFunctionAsync("() => document.documentElement.scrollWidth <= window.innerWidth", null, new() { Timeout = WaitMs });
    }
}
