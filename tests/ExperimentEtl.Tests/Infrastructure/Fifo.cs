using System.Diagnostics;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// A named pipe standing in for an input file, so a test can hold a run in the middle of reading it:
/// the run blocks until the test writes the rest and closes the pipe.
/// </summary>
public sealed class Fifo : IAsyncDisposable
{
    readonly Task<FileStream> _writer;
    readonly string _path;

    public Fifo(string path)
    {
        _path = path;
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

    /// <summary>
    /// Writes the header then rows without end, as a very large file would, until <paramref name="stop"/> or until
    /// the reader goes away. Returns the number of rows written.
    /// </summary>
    public async Task<long> StreamAsync(string header, Func<long, string> row, CancellationToken stop)
    {
        var stream = await _writer.WaitAsync(TimeSpan.FromSeconds(30), stop);
        long written = 0;
        try
        {
            await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(header + "\n"), stop);
            var batch = new System.Text.StringBuilder();
            while (!stop.IsCancellationRequested)
            {
                batch.Clear();
                for (var i = 0; i < 1000; i++)
                {
                    batch.Append(row(++written)).Append('\n');
                }
                await stream.WriteAsync(System.Text.Encoding.UTF8.GetBytes(batch.ToString()), stop);
            }
        }
        catch (Exception e) when (e is IOException or OperationCanceledException)
        {
            // The reader closed the file (its process ended) or the test is done.
        }
        return written;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_writer.IsCompleted)
        {
            // Nobody opened the file: open it ourselves so the waiting writer is released.
            await using var reader = new FileStream(_path, FileMode.Open, FileAccess.Read);
        }
        try
        {
            await (await _writer).DisposeAsync();
        }
        catch (IOException)
        {
            // The reader has gone: nothing left to flush.
        }
    }
}
