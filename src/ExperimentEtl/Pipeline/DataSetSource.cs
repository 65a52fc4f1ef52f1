using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Where a run reads its three files from: the configured data folder, or a temporary folder of uploaded files
/// that is deleted with the source. Only the three known file names are ever opened.
/// </summary>
public sealed class DataSetSource : IDisposable
{
    const string UploadPrefix = "experiment-etl-upload-";

    readonly string _directory;
    readonly ScratchFolder? _upload;

    DataSetSource(string directory, string kind, ScratchFolder? upload = null)
    {
        _directory = directory;
        Kind = kind;
        _upload = upload;
    }

    /// <summary>The folder the files are read from.</summary>
    public string FolderPath => _directory;

    /// <summary><see cref="RunSource.DataFolder"/> or <see cref="RunSource.Upload"/>.</summary>
    public string Kind { get; }

    public static DataSetSource FromDirectory(string directory) => new(Path.GetFullPath(directory), RunSource.DataFolder);

    /// <summary>A new private folder under <paramref name="uploadRoot"/> for uploaded files, deleted when the source is disposed.</summary>
    public static DataSetSource CreateUploadDirectory(string uploadRoot)
    {
        var folder = ScratchFolder.Create(uploadRoot, UploadPrefix);
        return new(folder.Path, RunSource.Upload, folder);
    }

    /// <summary>
    /// Deletes the upload folders under <paramref name="uploadRoot"/> that no process uses any more (left behind by a
    /// process that was killed during a run), however recent. Returns how many were deleted.
    /// </summary>
    public static int DeleteAbandonedUploads(string uploadRoot) => ScratchFolder.DeleteAbandoned(uploadRoot, UploadPrefix);

    /// <summary>The sizes of the three input files that exist, together; 0 for what has no size (a pipe).</summary>
    public long InputBytes() =>
        CsvSchema.All
            .Select(schema => new FileInfo(Path.Combine(_directory, schema.FileName)))
            .Where(file => file.Exists)
            .Sum(file => file.Length);

    /// <summary>Opens one of the three input files for sequential reading; null when it does not exist.</summary>
    public Stream? Open(string fileName)
    {
        var path = Path.Combine(_directory, fileName);
        if (!File.Exists(path))
        {
            return null;
        }
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
        if (!stream.CanSeek)
        {
            _readOnce = true;
        }
        return stream;
    }

    volatile bool _readOnce;

    /// <summary>
    /// False once a file opened was one that can be read only once (a pipe): a run must then finish with what it read,
    /// and cannot read the files again.
    /// </summary>
    public bool CanReadAgain => !_readOnce;

    public void Dispose() => _upload?.Dispose();
}
