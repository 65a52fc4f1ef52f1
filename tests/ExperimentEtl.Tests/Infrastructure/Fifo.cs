using System.Diagnostics;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// A named pipe standing in for an input file, so a test can hold a run in the middle of reading it:
/// the run blocks until the test writes the rest and closes the pipe.
/// </summary>
public sealed class Fifo : IAsyncDisposable
{
    readonly Task<FileStream> _writer;

    public Fifo(string path)
    {
        using (var mkfifo = Process.Start("mkfifo", [path]))
        {
            mkfifo.WaitForExit();
            if (mkfifo.ExitCode != 0)
            {
                throw new InvalidOperationException("mkfifo failed");
            }
        }
        // Opening for writing blocks until the run opens the file for reading.
        _writer = Task.Run(() => new FileStream(path, FileMode.Open, FileAccess.Write));
    }

    /// <summary>Completes once the run has opened the file.</summary>
    public async Task WaitForReaderAsync() => await _writer.WaitAsync(TimeSpan.FromSeconds(30));

    public async Task WriteAsync(string text)
    {
        var stream = await _writer.WaitAsync(TimeSpan.FromSeconds(30));
        await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(text));
        await stream.FlushAsync();
    }

    /// <summary>Ends the file: the run goes on with what it has read.</summary>
    public async Task CloseAsync()
    {
        var stream = await _writer.WaitAsync(TimeSpan.FromSeconds(30));
        await stream.DisposeAsync();
    }

    public async ValueTask DisposeAsync()
    {
        if (_writer.IsCompletedSuccessfully)
        {
            await _writer.Result.DisposeAsync();
        }
    }
}
