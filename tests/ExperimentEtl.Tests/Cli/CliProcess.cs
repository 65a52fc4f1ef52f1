using System.Diagnostics;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Cli;

/// <summary>What one run of the command-line tool printed, and how it exited.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    public string[] StdoutLines => Lines(Stdout);

    public string[] StderrLines => Lines(Stderr);

    static string[] Lines(string text) => text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>For assertion messages.</summary>
    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// Runs the built service executable as the tool (<c>dotnet ExperimentEtl.dll etl ...</c>) with stdout and stderr
/// redirected, as a script would, in an environment cleared of the service's settings.
/// </summary>
public static class CliProcess
{
    static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    static readonly string[] ClearedVariables =
        ["DATABASE_URL", "API_DB_PATH", "API_DB_PASSWORD", "ETL_DATA_DIR", "API_KEY", "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS"];

    public static Task<CliResult> RunAsync(params string[] arguments) => RunAsync(new Dictionary<string, string>(), arguments);

    public static Task<CliResult> RunAsync(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        RunInAsync(Path.GetDirectoryName(ServerProcess.ServiceDll())!, environment, arguments);

    /// <summary>Runs the tool from <paramref name="workingDirectory"/> (the others run it from the executable's folder).</summary>
    public static async Task<CliResult> RunInAsync(string workingDirectory, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        using var process = Start(environment, arguments, workingDirectory);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', arguments)}' did not end within {Timeout.TotalSeconds} s:\n{await stdout}\n{await stderr}");
        }
        return new CliResult(process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Runs the tool with its stdout, which may be binary (a Parquet report), copied into <paramref name="stdoutFile"/>.</summary>
    public static async Task<CliResult> RunToFileAsync(string stdoutFile, params string[] arguments)
    {
        using var process = Start(new Dictionary<string, string>(), arguments);
        await using var file = File.Create(stdoutFile);
        var stdout = process.StandardOutput.BaseStream.CopyToAsync(file);
        var stderr = process.StandardError.ReadToEndAsync();
        try
        {
            await process.WaitForExitAsync().WaitAsync(Timeout);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"'{string.Join(' ', arguments)}' did not end within {Timeout.TotalSeconds} s:\n{await stderr}");
        }
        await stdout;
        return new CliResult(process.ExitCode, "", await stderr);
    }

    /// <summary>Starts the executable without waiting for it (for <c>serve</c>); the caller reads or discards its output.</summary>
    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] arguments) =>
        Start(environment, arguments, Path.GetDirectoryName(ServerProcess.ServiceDll())!);

    static Process Start(IReadOnlyDictionary<string, string> environment, string[] arguments, string workingDirectory)
    {
        var dll = ServerProcess.ServiceDll();
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            WorkingDirectory = workingDirectory,
        };
        info.ArgumentList.Add(dll);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }
        foreach (var name in ClearedVariables)
        {
            info.Environment.Remove(name);
        }
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }
        return Process.Start(info)!;
    }
}
