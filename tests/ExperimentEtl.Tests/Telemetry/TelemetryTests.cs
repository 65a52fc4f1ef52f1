using System.Diagnostics;
using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;
using ExperimentEtl.Telemetry;
using ExperimentEtl.Tests.Infrastructure;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;

namespace ExperimentEtl.Tests.Telemetry;

/// <summary>
/// What an operator sees: a run's trace (spans exported in memory, as an OTLP collector would get them), the
/// Prometheus scrape at /metrics, JSON log lines of a real server process, and correlation ids in problem answers.
/// </summary>
public sealed partial class TelemetryTests
{
    static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task A_run_is_a_trace_of_its_own_linked_to_the_request_that_started_it_with_a_span_per_stage()
    {
        using var files = TestFiles.BundledSample();
        await using var baseApp = await EtlAppFactory.CreateAsync(Backend.Postgres, files.Directory);
        var spans = new LockedList<Activity>();
        var metrics = new LockedList<MetricSnapshot>();
        await using var app = baseApp.WithWebHostBuilder(builder => builder.ConfigureTestServices(services =>
            services.AddOpenTelemetry()
                .WithTracing(tracing => TelemetryRegistration.AddTraceSources(tracing).AddInMemoryExporter(spans))
                .WithMetrics(meters => meters.AddInMemoryExporter(metrics))));
        var client = app.CreateClient();

        var response = await client.PostAsync("/api/etl/runs?wait=true", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var runId = (await response.ReadJsonAsync()).GetProperty("run_id").GetString();

        // The request's span ends just after its answer is sent: wait for it (bounded).
        Activity? run = null, request = null;
        var deadline = Stopwatch.StartNew();
        for (var attempt = 0; attempt < 150 && deadline.Elapsed < Patience && request is null; attempt++)
        {
            run = spans.Snapshot().SingleOrDefault(s => s.OperationName == EtlTelemetry.RunSpan && (string?)s.GetTagItem("etl.run_id") == runId);
            request = run is null ? null : spans.Snapshot().SingleOrDefault(s =>
                s.Kind == ActivityKind.Server && run.Links.Any(link => link.Context.SpanId == s.SpanId));
            if (request is null)
            {
                await Task.Delay(100);
            }
        }
        Assert.NotNull(run);
        Assert.NotNull(request);
        Assert.Equal(default, run.ParentSpanId); // A root: the run is not part of the request's trace...
        Assert.NotEqual(request.TraceId, run.TraceId);
        Assert.StartsWith("POST /api/etl/runs", request.DisplayName, StringComparison.Ordinal); // ...but linked to it.
        Assert.Equal("succeeded", run.GetTagItem("etl.run.status"));

        var trace = spans.Snapshot().Where(s => s.TraceId == run.TraceId).ToList();
        Assert.Equal(["compounds.csv", "user_experiments.csv", "users.csv"],
            trace.Where(s => s.OperationName == "etl.read_file").Select(s => (string?)s.GetTagItem("etl.file")).Order());
        foreach (var stage in new[] { "etl.features", "etl.commit", "etl.keys", "etl.feature_tables", "etl.publish", "etl.changes" })
        {
            Assert.Single(trace, s => s.OperationName == stage);
        }
        var users = trace.Single(s => s.OperationName == "etl.read_file" && (string?)s.GetTagItem("etl.file") == "users.csv");
        Assert.Equal(10L, users.GetTagItem("etl.rows.loaded"));
        foreach (var stage in new[] { "etl.read_file", "etl.features", "etl.commit", "etl.keys" })
        {
            Assert.All(trace.Where(s => s.OperationName == stage), s => Assert.Equal(run.SpanId, s.ParentSpanId));
        }
        var commit = trace.Single(s => s.OperationName == "etl.commit");
        Assert.Equal(commit.SpanId, trace.Single(s => s.OperationName == "etl.publish").ParentSpanId);
        Assert.Equal(commit.SpanId, trace.Single(s => s.OperationName == "etl.feature_tables").ParentSpanId);
        var changes = trace.Single(s => s.OperationName == "etl.changes");
        Assert.Equal(trace.Single(s => s.OperationName == "etl.publish").SpanId, changes.ParentSpanId);
        Assert.Equal("nothing", changes.GetTagItem("etl.changes.compared")); // The first load into this database.
        Assert.Contains(trace, s => s.Source.Name == "Npgsql"); // The database's commands, in the run's trace.

        // The same run in the metrics (the meter is one for the process: other tests' runs may add, never take away).
        // False whatever the in-memory reader did: the Prometheus reader is only collected by a scrape.
        app.Services.GetRequiredService<MeterProvider>().ForceFlush();
        long Sum(string name, params string[] tags) => metrics.Snapshot().Where(m => m.Name == name).Select(m => m.MetricPoints
            .Where(p => HasTags(p, tags))
            .Sum(p => m.MetricType == MetricType.Histogram ? p.GetHistogramCount() : p.GetSumLong())).DefaultIfEmpty().Max();
        Assert.True(Sum("etl.runs.started", "mode=strict", "source=data_folder") >= 1);
        Assert.True(Sum("etl.runs.finished", "mode=strict", "status=succeeded") >= 1);
        Assert.True(Sum("etl.run.duration", "mode=strict", "status=succeeded") >= 1);
        Assert.True(Sum("etl.rows.loaded", "file=user_experiments.csv") >= 11);
        Assert.True(Sum("etl.read", "file=compounds.csv") >= 119);
        Assert.Contains(metrics.Snapshot(), m => m.Name == "etl.runs.active");
        Assert.Contains(metrics.Snapshot(), m => m.Name == "http.server.request.duration");
    }

    [Fact]
    public async Task Metrics_scraped_after_a_run_show_the_runs_rows_bytes_and_the_platforms_metrics()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();

        Assert.Equal(HttpStatusCode.OK, (await client.PostAsync("/api/etl/runs?wait=true&mode=lenient", null)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/report")).StatusCode);
        var scrape = await client.GetAsync("/metrics");
        Assert.Equal(HttpStatusCode.OK, scrape.StatusCode);
        Assert.StartsWith("text/plain", scrape.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
        var text = await scrape.Content.ReadAsStringAsync();

        // The meter is one for the process: other tests' runs may add to these counts, never take away.
        Assert.True(Sample(text, "etl_runs_started_total", "mode=\"lenient\"") >= 1, text);
        Assert.True(Sample(text, "etl_runs_finished_total", "status=\"succeeded\"", "mode=\"lenient\"") >= 1, text);
        Assert.True(Sample(text, "etl_run_duration_seconds_count", "status=\"succeeded\"", "mode=\"lenient\"") >= 1, text);
        Assert.True(Sample(text, "etl_rows_read_total", "file=\"user_experiments.csv\"") >= 11, text);
        Assert.True(Sample(text, "etl_rows_loaded_total", "file=\"users.csv\"") >= 10, text);
        Assert.NotNull(Sample(text, "etl_rows_rejected_total", "file=\"compounds.csv\""));
        Assert.True(Sample(text, "etl_read_bytes_total", "file=\"users.csv\"") >= 421, text);
        Assert.NotNull(Sample(text, "etl_runs_active"));
        Assert.True(Sample(text, "etl_report_cache_lookups_total", "result=\"hit\"") >= 1, text);
        Assert.True(Sample(text, "http_server_request_duration_seconds_count", "http_route=\"/report\"") >= 2, text);
        Assert.Contains("\ndotnet_gc_", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Problem_answers_carry_the_callers_trace_id_and_request_id()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();
        const string traceId = "4bf92f3577b34da6a3ce929d0e0e4736";

        using var request = new HttpRequestMessage(HttpMethod.Get, $"/api/etl/runs/{Guid.NewGuid()}");
        request.Headers.Add("traceparent", $"00-{traceId}-00f067aa0ba902b7-01");
        request.Headers.Add("X-Request-Id", "req-42");
        var problem = await client.SendAsync(request);
        Assert.Equal(HttpStatusCode.NotFound, problem.StatusCode);
        var body = await problem.ReadJsonAsync();
        Assert.Equal(traceId, body.GetProperty("trace_id").GetString());
        Assert.Equal("req-42", body.GetProperty("request_id").GetString());
        Assert.False(body.TryGetProperty("traceId", out _));

        // Without either header: the server's own ids, still there to look up in the log.
        var unknown = await (await client.GetAsync("/no-such-thing")).ReadJsonAsync();
        Assert.Matches("^[0-9a-f]{32}$", unknown.GetProperty("trace_id").GetString());
        Assert.False(string.IsNullOrEmpty(unknown.GetProperty("request_id").GetString()));
    }

    [Fact]
    public async Task With_json_logs_every_line_of_a_run_carries_its_run_id_and_trace_id()
    {
        using var files = TestFiles.BundledSample();
        var work = Directory.CreateTempSubdirectory("etl-json-log-test-");
        try
        {
            string runId;
            string output;
            await using (var server = await ServerProcess.StartAsync(new Dictionary<string, string>
            {
                ["DATABASE_URL"] = Path.Combine(work.FullName, "json.db"),
                ["ETL_DATA_DIR"] = files.Directory,
                ["Logging__Console__FormatterName"] = "json",
            }))
            {
                var response = await server.Client.PostAsync("/api/etl/runs?wait=true", null);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                runId = (await response.ReadJsonAsync()).GetProperty("run_id").GetString()!;
                output = server.Output;
            }

            var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Where(line => line.StartsWith('{'))
                .Select(line => JsonDocument.Parse(line).RootElement)
                .ToList();
            Assert.NotEmpty(lines);
            Assert.All(lines, line => Assert.True(line.TryGetProperty("Timestamp", out _) && line.TryGetProperty("Category", out _), line.ToString()));

            var runLines = lines.Where(line => line.GetProperty("Message").GetString()!.Contains(runId, StringComparison.Ordinal)).ToList();
            Assert.True(runLines.Count >= 2, output); // started, succeeded
            string? traceId = null;
            foreach (var line in runLines)
            {
                var scopes = line.GetProperty("Scopes").EnumerateArray().ToList();
                Assert.Contains(scopes, scope => scope.TryGetProperty("RunId", out var id) && id.GetString() == runId);
                var trace = scopes.Single(scope => scope.TryGetProperty("TraceId", out _)).GetProperty("TraceId").GetString();
                Assert.Matches("^[0-9a-f]{32}$", trace);
                traceId ??= trace;
                Assert.Equal(traceId, trace); // One trace for the whole run.
            }
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    [Fact]
    public async Task With_an_OTLP_endpoint_the_runs_spans_go_to_the_collector_under_the_configured_service_name()
    {
        using var files = TestFiles.BundledSample();
        var work = Directory.CreateTempSubdirectory("etl-otlp-test-");
        using var collector = new HttpListener();
        var port = FreePort();
        collector.Prefixes.Add($"http://127.0.0.1:{port}/");
        collector.Start();
        var received = new System.Collections.Concurrent.ConcurrentQueue<(string Path, byte[] Body)>();
        var receiving = Task.Run(async () =>
        {
            while (collector.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await collector.GetContextAsync();
                }
                catch (Exception e) when (e is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }
                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.Close();
            }
        });
        try
        {
            await using var server = await ServerProcess.StartAsync(new Dictionary<string, string>
            {
                ["DATABASE_URL"] = Path.Combine(work.FullName, "otlp.db"),
                ["ETL_DATA_DIR"] = files.Directory,
                ["OTEL_EXPORTER_OTLP_ENDPOINT"] = $"http://127.0.0.1:{port}",
                ["OTEL_EXPORTER_OTLP_PROTOCOL"] = "http/protobuf",
                ["OTEL_BSP_SCHEDULE_DELAY"] = "100",
                ["OTEL_SERVICE_NAME"] = "etl-otlp-test",
                ["OTEL_RESOURCE_ATTRIBUTES"] = "deployment.environment=staging-42",
            });
            var response = await server.Client.PostAsync("/api/etl/runs?wait=true", null);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var runId = (await response.ReadJsonAsync()).GetProperty("run_id").GetString()!;

            // OTLP's protobuf keeps strings as UTF-8 bytes: the run's span is found by its name and run id.
            bool Exported(string text) => received.Any(r => r.Path == "/v1/traces" && Contains(r.Body, text));
            var deadline = Stopwatch.StartNew();
            for (var attempt = 0; attempt < 150 && deadline.Elapsed < Patience && !Exported(runId); attempt++)
            {
                await Task.Delay(100);
            }
            Assert.True(Exported(runId), server.Output);
            Assert.True(Exported(EtlTelemetry.RunSpan));
            Assert.True(Exported("etl-otlp-test"));
            Assert.True(Exported("staging-42"));
        }
        finally
        {
            collector.Stop();
            await receiving;
            work.Delete(recursive: true);
        }
    }

    static bool HasTags(MetricPoint point, string[] tags)
    {
        var present = new List<string>();
        foreach (var tag in point.Tags)
        {
            present.Add($"{tag.Key}={tag.Value}");
        }
        return tags.All(present.Contains);
    }

    static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(System.Text.Encoding.UTF8.GetBytes(text)) >= 0;

    static int FreePort()
    {
        using var listener = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The value of one sample of the Prometheus text format whose labels include all of <paramref name="labels"/>.</summary>
    static double? Sample(string text, string name, params string[] labels)
    {
        foreach (Match match in SampleLine().Matches(text))
        {
            if (match.Groups["name"].Value == name && labels.All(label => match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }
        return null;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?<labels>[^}]*)\})? (?<value>\S+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();

    /// <summary>The exporter adds from the thread that ends a span while the test reads: a list behind a lock.</summary>
    sealed class LockedList<T> : ICollection<T>
    {
        readonly List<T> _items = [];

        public List<T> Snapshot()
        {
            lock (_items)
            {
                return [.. _items];
            }
        }

        public void Add(T item)
        {
            lock (_items)
            {
                _items.Add(item);
            }
        }

        public int Count => Snapshot().Count;

        public bool IsReadOnly => false;

        public void Clear()
        {
            lock (_items)
            {
                _items.Clear();
            }
        }

        public bool Contains(T item) => Snapshot().Contains(item);

        public void CopyTo(T[] array, int arrayIndex) => Snapshot().CopyTo(array, arrayIndex);

        public bool Remove(T item)
        {
            lock (_items)
            {
                return _items.Remove(item);
            }
        }

        public IEnumerator<T> GetEnumerator() => Snapshot().GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
