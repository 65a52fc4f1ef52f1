using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// The real service as a separate process on a free loopback port: for behaviour that is about processes
/// (several replicas, kill -9, SIGTERM). It uses the build of src/ExperimentEtl made alongside the tests.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    readonly Process _process;
    readonly StringBuilder _output = new();

    ServerProcess(Process process, Uri address)
    {
        _process = process;
        Address = address;
        Client = new HttpClient { BaseAddress = address, Timeout = TimeSpan.FromSeconds(30) };
    }

    public Uri Address { get; }

    public HttpClient Client { get; }

    public int ProcessId => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything the server printed so far, for failure messages.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <param name="untilReady">Wait for <c>/readyz</c> to answer 200; false: only for the server to listen (<c>/healthz</c>).</param>
    public static async Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string> environment, bool untilReady = true)
    {
        var port = FreePort();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(ServiceDll())!,
        };
        info.ArgumentList.Add(ServiceDll());
        info.ArgumentList.Add("--urls");
        info.ArgumentList.Add($"http://127.0.0.1:{port}");
        foreach (var name in new[] { "DATABASE_URL", "API_DB_PATH", "ETL_DATA_DIR", "API_KEY", "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS" })
        {
            info.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        var process = Process.Start(info)!;
        var server = new ServerProcess(process, new Uri($"http://127.0.0.1:{port}"));
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await server.WaitUntilReadyAsync(untilReady ? "/readyz" : "/healthz");
        return server;
    }

    void Append(string? line)
    {
        lock (_output)
        {
            _output.AppendLine(line);
        }
    }

    async Task WaitUntilReadyAsync(string probe)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {_process.ExitCode}:\n{Output}");
            }
            try
            {
                if ((await Client.GetAsync(probe)).StatusCode == HttpStatusCode.OK)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException($"{probe} did not answer 200 within 60 s:\n{Output}");
    }

    /// <summary>kill -9: no shutdown code runs.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
    }

    /// <summary>Sends SIGTERM, as docker stop and Kubernetes do; returns the time the process took to exit.</summary>
    public async Task<TimeSpan> TerminateAsync(TimeSpan patience)
    {
        var watch = Stopwatch.StartNew();
        using (var kill = Process.Start("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await _process.WaitForExitAsync().WaitAsync(patience);
        return watch.Elapsed;
    }

    public int ExitCode => _process.ExitCode;

    static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>The service built in the same configuration as these tests.</summary>
    public static string ServiceDll()
    {
        var configuration = new DirectoryInfo(Path.TrimEndingDirectorySeparator(AppContext.BaseDirectory)).Parent!.Name; // bin/<Configuration>/net10.0
        var path = Path.Combine(TestPostgres.RepositoryRoot(), "src", "ExperimentEtl", "bin", configuration, "net10.0", "ExperimentEtl.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build the solution first.", path);
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(30));
        }
        _process.Dispose();
    }
}
