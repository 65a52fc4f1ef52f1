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
    public Task Dashboard_runs_the_ETL_shows_charts_and_users_and_lists_upload_errors_by_line() =>
        WithDashboardAsync("dashboard-failure.png", async (page, work) =>
        {
            await DriveAsync(page, work);
            await ApiReferenceAsync(page);
        });

    [Fact]
    public Task Dashboard_shows_what_the_newest_load_changed_with_its_lists_and_the_figures_over_the_loads() =>
        WithDashboardAsync("dashboard-changes-failure.png", ChangesAsync);

    /// <summary>
    /// The service over a SQLite file and a copy of the bundled sample, and Chromium on its dashboard: runs
    /// <paramref name="drive"/> (given the page and a scratch folder), then fails on anything the page logged as an error.
    /// </summary>
    static async Task WithDashboardAsync(string failureScreenshot, Func<IPage, string, Task> drive)
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
                await drive(page, work.FullName);
            }
            catch (Exception e) when (e is PlaywrightException or TimeoutException or Xunit.Sdk.XunitException)
            {
                // The page as it was when the test gave up, next to the test binaries.
                var failure = Path.Combine(AppContext.BaseDirectory, failureScreenshot);
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

    /// <summary>
    /// Three loads through the dashboard: the bundled sample, an edited copy (a user renamed, one added, an experiment
    /// removed), and that copy with 30 more users. After each, the "Since the last load" panel and the chart of the loads
    /// must show figures worked out by hand below, and the panel's figures open the lists behind them.
    /// </summary>
    static async Task ChangesAsync(IPage page, string work)
    {
        var data = Path.Combine(TestPostgres.RepositoryRoot(), "data");
        var users = File.ReadAllText(Path.Combine(data, "users.csv")).TrimEnd('\n');
        var experiments = File.ReadAllText(Path.Combine(data, "user_experiments.csv"));
        var compounds = File.ReadAllText(Path.Combine(data, "compounds.csv"));
        var panel = page.Locator("#changes");
        var list = page.Locator("#change-list");
        var listRows = list.Locator("tbody tr");

        // First load, the bundled sample (10 users, 3 compounds, 11 experiments): everything is added.
        await page.GotoAsync("/");
        await page.Locator("#empty-state").GetByRole(AriaRole.Button, new() { Name = "Run on the data folder" }).ClickAsync();
        await Assertions.Expect(page.Locator("#run-status")).ToContainTextAsync("Run succeeded");
        await Assertions.Expect(panel.GetByRole(AriaRole.Heading, new() { Name = "Since the last load" })).ToBeVisibleAsync();
        await Assertions.Expect(page.Locator("#changes-status")).ToHaveTextAsync("This is the first load: everything in it was added.");
        await ExpectCountsAsync(page, "Users", added: 10, removed: 0, changed: 0, unchanged: 0);
        await ExpectCountsAsync(page, "Compounds", added: 3, removed: 0, changed: 0, unchanged: 0);
        await ExpectCountsAsync(page, "Experiments", added: 11, removed: 0, changed: 0, unchanged: 0);
        await Assertions.Expect(page.Locator("#changes-fav")).ToHaveTextAsync("0");
        await Assertions.Expect(page.Locator("#changes-count")).ToHaveTextAsync("0");
        await Assertions.Expect(page.Locator("#changes-average")).ToHaveTextAsync("1.1"); // 11 experiments / 10 users
        await Assertions.Expect(CountCell(page, "Users", 2).GetByRole(AriaRole.Link)).ToHaveCountAsync(0); // nothing to list
        await Assertions.Expect(page.Locator("#chart-history")).ToHaveAttributeAsync("data-points", "1");

        // Second load, uploaded: Alice renamed Alicia, Mallory (11) added without experiments, experiment 3 (Bob's only one,
        // compounds 1;3) removed.
        Assert.Contains("1,\tAlice,\talice@example.com", users, StringComparison.Ordinal);
        Assert.Contains("3,\t2,\t1;3,\t20\n", experiments, StringComparison.Ordinal);
        var editedUsers = users.Replace("1,\tAlice,", "1,\tAlicia,", StringComparison.Ordinal) + "\n11,\tMallory,\tmallory@example.com,\t2023-11-01\n";
        var editedExperiments = experiments.Replace("3,\t2,\t1;3,\t20\n", "", StringComparison.Ordinal);
        await UploadAsync(page, work, editedUsers, editedExperiments, compounds);

        // Users: Alicia changed, Mallory added, Bob to Judy (9) unchanged: Bob's row is the same, only his features moved.
        // Experiments: 1 removed, the other 10 unchanged. Bob's favourite (Compound A: 1 and 3 tie, the lower id wins) and
        // his count (1 to 0) moved; Mallory is added, not moved. Experiments per user: 11 / 10 = 1.1 → 10 / 11 = 0.91.
        await Assertions.Expect(page.Locator("#chart-history")).ToHaveAttributeAsync("data-points", "2");
        await ExpectCountsAsync(page, "Users", added: 1, removed: 0, changed: 1, unchanged: 9);
        await ExpectCountsAsync(page, "Compounds", added: 0, removed: 0, changed: 0, unchanged: 3);
        await ExpectCountsAsync(page, "Experiments", added: 0, removed: 1, changed: 0, unchanged: 10);
        await Assertions.Expect(page.Locator("#changes-fav")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#changes-count")).ToHaveTextAsync("1");
        await Assertions.Expect(page.Locator("#changes-average")).ToHaveTextAsync("1.1 → 0.91");
        await Assertions.Expect(page.Locator("#changes-status")).ToBeHiddenAsync();

        // The changed users: Alicia alone, with the name before and after (and only the name: nothing else of hers changed).
        await Assertions.Expect(list).ToBeHiddenAsync();
        await panel.GetByRole(AriaRole.Link, new() { Name = "show the users changed" }).ClickAsync();
        await Assertions.Expect(list.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Users changed (1)");
        await Assertions.Expect(listRows).ToHaveCountAsync(1);
        await Assertions.Expect(listRows.First.Locator("th")).ToHaveTextAsync("1");
        await Assertions.Expect(listRows.First.Locator("td").Nth(0)).ToHaveTextAsync("name Alice");
        await Assertions.Expect(listRows.First.Locator("td").Nth(1)).ToHaveTextAsync("name Alicia");
        await Assertions.Expect(page.Locator("#change-list-more")).ToBeHiddenAsync();
        Assert.EndsWith("/", page.Url, StringComparison.Ordinal); // the figure opened the list in place

        // Bob's favourite: Compound A before, none after; the removed experiment with its values.
        await panel.GetByRole(AriaRole.Link, new() { Name = "show the users whose favourite compound moved" }).ClickAsync();
        await Assertions.Expect(list.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Users whose favourite compound moved (1)");
        await Assertions.Expect(listRows).ToHaveCountAsync(1);
        await Assertions.Expect(listRows.First.Locator("th")).ToHaveTextAsync("2");
        await Assertions.Expect(listRows.First.Locator("td").Nth(0)).ToContainTextAsync("favourite Compound A");
        await Assertions.Expect(listRows.First.Locator("td").Nth(1)).ToContainTextAsync("favourite none");
        await CountCell(page, "Experiments", 1).GetByRole(AriaRole.Link).ClickAsync();
        await Assertions.Expect(list.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Experiments removed (1)");
        await Assertions.Expect(listRows).ToHaveCountAsync(1);
        await Assertions.Expect(listRows.First.Locator("th")).ToHaveTextAsync("3");
        await Assertions.Expect(listRows.First.Locator("td").Nth(0)).ToHaveTextAsync("user 2compounds 1, 3run time 20");
        await Assertions.Expect(listRows.First.Locator("td").Nth(1)).ToHaveTextAsync("— removed");

        // Third load: users 12 to 41 added. Their list comes a page (25) at a time; "Show more" brings the last 5.
        var moreUsers = new System.Text.StringBuilder(editedUsers);
        for (var id = 12; id <= 41; id++)
        {
            moreUsers.Append(System.Globalization.CultureInfo.InvariantCulture, $"{id},\tUser {id},\tu{id}@example.com,\t2024-01-02\n");
        }
        await UploadAsync(page, work, moreUsers.ToString(), editedExperiments, compounds);
        await Assertions.Expect(page.Locator("#chart-history")).ToHaveAttributeAsync("data-points", "3");
        await ExpectCountsAsync(page, "Users", added: 30, removed: 0, changed: 0, unchanged: 11);
        await Assertions.Expect(page.Locator("#changes-average")).ToHaveTextAsync("0.91 → 0.24"); // 10 / 41
        await Assertions.Expect(list).ToBeHiddenAsync(); // the previous load's list closed with it
        await CountCell(page, "Users", 0).GetByRole(AriaRole.Link).ClickAsync();
        await Assertions.Expect(list.GetByRole(AriaRole.Heading)).ToHaveTextAsync("Users added (30)");
        await Assertions.Expect(listRows).ToHaveCountAsync(25);
        await Assertions.Expect(listRows.First.Locator("th")).ToHaveTextAsync("12");
        await Assertions.Expect(listRows.First.Locator("td").Nth(0)).ToHaveTextAsync("— new");
        await Assertions.Expect(listRows.First.Locator("td").Nth(1)).ToContainTextAsync("name User 12");
        await list.GetByRole(AriaRole.Link, new() { Name = "Show more" }).ClickAsync();
        await Assertions.Expect(listRows).ToHaveCountAsync(30);
        await Assertions.Expect(listRows.Last.Locator("th")).ToHaveTextAsync("41");
        await Assertions.Expect(page.Locator("#change-list-more")).ToBeHiddenAsync();

        // The chart: one point per load, oldest first, with the figures of each load.
        await page.WaitForFunctionAsync(HistoryChartDrawn, null, new() { Timeout = WaitMs, PollingInterval = 100 });
        var series = await page.EvaluateAsync<double[][]>(
            "() => window.Chart.getChart(document.getElementById('chart-history')).data.datasets.map(d => d.data)");
        double[] users41 = [10, 11, 41], experiments10 = [11, 10, 10];
        Assert.Equal(users41, series[0]);
        Assert.Equal(experiments10, series[1]);
        Assert.Equal(3, series[2].Length); // experiments per user
        Assert.Equal(11.0 / 10, series[2][0], 9);
        Assert.Equal(10.0 / 11, series[2][1], 9);
        Assert.Equal(10.0 / 41, series[2][2], 9);
        await page.ScreenshotAsync(new() { Path = Path.Combine(AppContext.BaseDirectory, "dashboard-changes.png"), FullPage = true });

        // A narrow screen, the list open: nothing wider than the viewport.
        await page.SetViewportSizeAsync(390, 844);
        await page.WaitForFunctionAsync("() => document.documentElement.scrollWidth <= window.innerWidth", null, new() { Timeout = WaitMs });
    }

    const string HistoryChartDrawn = """
        () => {
            const canvas = document.getElementById('chart-history');
            const chart = window.Chart && window.Chart.getChart(canvas);
            if (!chart || canvas.width === 0 || canvas.height === 0) return false;
            const pixels = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
            for (let i = 3; i < pixels.length; i += 4) if (pixels[i] !== 0) return true;
            return false;
        }
        """;

    /// <summary>The panel's cell for a table (its row) and a column: 0 added, 1 removed, 2 changed, 3 unchanged.</summary>
    static ILocator CountCell(IPage page, string table, int column) =>
        page.Locator("#changes-table tbody tr").Filter(new() { Has = page.Locator("th", new() { HasTextString = table }) }).Locator("td").Nth(column);

    static async Task ExpectCountsAsync(IPage page, string table, int added, int removed, int changed, int unchanged)
    {
        int[] expected = [added, removed, changed, unchanged];
        for (var column = 0; column < expected.Length; column++)
        {
            await Assertions.Expect(CountCell(page, table, column)).ToHaveTextAsync($"{expected[column]}");
        }
    }

    /// <summary>Uploads the three files through the dashboard's form and waits for the run to succeed.</summary>
    static async Task UploadAsync(IPage page, string work, string users, string experiments, string compounds)
    {
        var folder = Directory.CreateDirectory(Path.Combine(work, "upload")).FullName;
        await File.WriteAllTextAsync(Path.Combine(folder, "users.csv"), users);
        await File.WriteAllTextAsync(Path.Combine(folder, "user_experiments.csv"), experiments);
        await File.WriteAllTextAsync(Path.Combine(folder, "compounds.csv"), compounds);
        var form = page.Locator("#upload-form");
        await form.Locator("input[name=users]").SetInputFilesAsync(Path.Combine(folder, "users.csv"));
        await form.Locator("input[name=user_experiments]").SetInputFilesAsync(Path.Combine(folder, "user_experiments.csv"));
        await form.Locator("input[name=compounds]").SetInputFilesAsync(Path.Combine(folder, "compounds.csv"));
        await form.GetByRole(AriaRole.Button, new() { Name = "Upload and run" }).ClickAsync();
        await Assertions.Expect(page.Locator("#run-status")).ToContainTextAsync("Run succeeded");
    }
}
