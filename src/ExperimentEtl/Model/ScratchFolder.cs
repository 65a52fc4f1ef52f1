namespace ExperimentEtl.Model;

/// <summary>
/// A private temporary folder that its owner holds locked while it uses it, and deletes when done. A killed process
/// releases the lock, which is how a later process tells a folder left behind from one still in use, whatever its age,
/// even when several processes share the parent folder.
/// </summary>
public sealed class ScratchFolder : IDisposable
{
    const string LockFile = ".in-use";

    readonly FileStream _lock;
    bool _disposed;

    ScratchFolder(string path, FileStream lockStream)
    {
        Path = path;
        _lock = lockStream;
    }

    public string Path { get; }

    /// <summary>Creates <c>{parent}/{prefix}{random}</c>, readable by this user only, and locks it.</summary>
    public static ScratchFolder Create(string parent, string prefix)
    {
        Directory.CreateDirectory(parent);
        var path = System.IO.Path.Combine(parent, prefix + Guid.NewGuid().ToString("N"));
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        // The lock is taken under another name and only then renamed: a lock file that exists under its real name is
        // therefore always held by a live owner, and a sweep never mistakes a folder being created for an abandoned one.
        var pending = System.IO.Path.Combine(path, LockFile + ".new");
        var lockStream = Lock(pending, FileMode.CreateNew);
        File.Move(pending, System.IO.Path.Combine(path, LockFile));
        return new ScratchFolder(path, lockStream);
    }

    /// <summary>
    /// Deletes the folders <c>{parent}/{prefix}*</c> whose owner is gone: their lock can be taken. A folder without a lock
    /// file (its owner was killed while creating it, or it was written by a version before the lock) is deleted once it
    /// is a minute old. Returns how many were deleted.
    /// </summary>
    public static int DeleteAbandoned(string parent, string prefix)
    {
        var deleted = 0;
        var now = DateTime.UtcNow;
        try
        {
            foreach (var folder in new DirectoryInfo(parent).EnumerateDirectories(prefix + "*"))
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
            // No such parent yet, or one this user cannot list: nothing to delete.
        }
        return deleted;
    }

    static bool IsAbandoned(DirectoryInfo folder, DateTime now)
    {
        var lockPath = System.IO.Path.Combine(folder.FullName, LockFile);
        if (!File.Exists(lockPath))
        {
            return folder.LastWriteTimeUtc < now - TimeSpan.FromMinutes(1);
        }
        try
        {
            using (Lock(lockPath, FileMode.Open))
            {
                return true;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false; // In use by a live process, or another user's.
        }
    }

    // FileShare.None is an exclusive advisory lock (flock) on Unix, released by the kernel when the process dies.
    static FileStream Lock(string path, FileMode mode) => new(path, mode, FileAccess.ReadWrite, FileShare.None);

    /// <summary>Releases the lock and deletes the folder with everything in it.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }
        _disposed = true;
        _lock.Dispose();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Already gone, or not removable: the next start-up's sweep tries again.
        }
    }
}
