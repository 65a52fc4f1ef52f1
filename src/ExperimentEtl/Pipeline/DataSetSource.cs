using ExperimentEtl.Csv;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Where a run reads its three files from: the configured data folder, or a temporary folder of uploaded files
/// that is deleted with the source. Only the three known file names are ever opened.
/// </summary>
public sealed class DataSetSource : IDisposable
{
    const string UploadPrefix = "experiment-etl-upload-";

    // Held (exclusively) while the upload's run lasts. A process that dies releases it, which is how a later process
    // tells an abandoned upload folder from one in use, even by another process sharing the folder.
    const string InUseFile = ".in-use";

    readonly string _directory;
    readonly bool _ownsDirectory;
    readonly FileStream? _inUse;

    DataSetSource(string directory, string kind, bool ownsDirectory, FileStream? inUse = null)
    {
        _directory = directory;
        Kind = kind;
        _ownsDirectory = ownsDirectory;
        _inUse = inUse;
    }

    /// <summary>The folder the files are read from.</summary>
    public string FolderPath => _directory;

    /// <summary><see cref="RunSource.DataFolder"/> or <see cref="RunSource.Upload"/>.</summary>
    public string Kind { get; }

    public static DataSetSource FromDirectory(string directory) => new(Path.GetFullPath(directory), RunSource.DataFolder, false);

    /// <summary>A new folder under <paramref name="uploadRoot"/> for uploaded files, deleted when the source is disposed.</summary>
    public static DataSetSource CreateUploadDirectory(string uploadRoot)
    {
        Directory.CreateDirectory(uploadRoot);
        var directory = Path.Combine(uploadRoot, UploadPrefix + Guid.NewGuid().ToString("N"));
        // Readable by this user only: the root may be a shared /tmp.
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(directory);
        }
        else
        {
            Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        return new(directory, RunSource.Upload, true, LockInUse(directory, FileMode.CreateNew));
    }

    /// <summary>
    /// Deletes the upload folders under <paramref name="uploadRoot"/> that no process uses any more (left behind by a
    /// process that was killed during a run). Returns how many were deleted.
    /// </summary>
    public static int DeleteAbandonedUploads(string uploadRoot)
    {
        var deleted = 0;
        var now = DateTime.UtcNow;
        try
        {
            foreach (var folder in new DirectoryInfo(uploadRoot).EnumerateDirectories(UploadPrefix + "*"))
            {
                if (folder.LinkTarget is not null || !IsAbandoned(folder, now))
                {
                    continue;
                }
                try
                {
                    folder.Delete(recursive: true);
                    deleted++;
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Not removable by this user: left as it is.
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // No upload root yet, or one this user cannot list: nothing to delete.
        }
        return deleted;
    }

    /// <summary>
    /// Abandoned: its in-use lock can be taken. A folder younger than a minute may be one whose run is only now taking
    /// the lock; one without a lock file (written by a version before the lock) counts after a day.
    /// </summary>
    static bool IsAbandoned(DirectoryInfo folder, DateTime now)
    {
        if (folder.LastWriteTimeUtc > now - TimeSpan.FromMinutes(1))
        {
            return false;
        }
        if (!File.Exists(Path.Combine(folder.FullName, InUseFile)))
        {
            return folder.LastWriteTimeUtc < now - TimeSpan.FromDays(1);
        }
        try
        {
            using (LockInUse(folder.FullName, FileMode.Open))
            {
                return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // In use by a running upload, or another user's.
        }
    }

    static FileStream LockInUse(string directory, FileMode mode) =>
        new(Path.Combine(directory, InUseFile), mode, FileAccess.ReadWrite, FileShare.None);

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
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
    }

    public void Dispose()
    {
        if (!_ownsDirectory)
        {
            return;
        }
        _inUse?.Dispose();
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
