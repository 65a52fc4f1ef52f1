namespace ExperimentEtl.Pipeline;

/// <summary>
/// Where a run reads its three files from: the configured data folder, or a temporary folder of uploaded files
/// that is deleted with the source. Only the three known file names are ever opened.
/// </summary>
public sealed class DataSetSource : IDisposable
{
    readonly string _directory;
    readonly bool _ownsDirectory;

    DataSetSource(string directory, string kind, bool ownsDirectory)
    {
        _directory = directory;
        Kind = kind;
        _ownsDirectory = ownsDirectory;
    }

    /// <summary><see cref="RunSource.DataFolder"/> or <see cref="RunSource.Upload"/>.</summary>
    public string Kind { get; }

    public static DataSetSource FromDirectory(string directory) => new(Path.GetFullPath(directory), RunSource.DataFolder, false);

    /// <summary>A temporary folder that this source deletes when disposed.</summary>
    public static DataSetSource FromUploadDirectory(string directory) => new(directory, RunSource.Upload, true);

    /// <summary>Opens one of the three input files for sequential reading; null when it does not exist.</summary>
    public Stream? Open(string fileName)
    {
        var path = Path.Combine(_directory, fileName);
        if (!File.Exists(path))
        {
            return null;
        }
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
    }

    public void Dispose()
    {
        if (!_ownsDirectory)
        {
            return;
        }
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Already gone, or not removable: nothing the run's outcome depends on.
        }
    }
}
