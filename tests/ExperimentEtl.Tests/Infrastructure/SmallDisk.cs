namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// A real, small file system (tmpfs) mounted on a temporary folder: for what the service does when the disk fills up.
/// Mounting needs root, as in CI and the project's development machines.
/// </summary>
public sealed class SmallDisk : IAsyncDisposable
{
    SmallDisk(string path) => Path = path;

    public string Path { get; }

    public static async Task<SmallDisk> MountAsync(int megabytes)
    {
        var path = Directory.CreateTempSubdirectory("etl-test-disk-").FullName;
        await Shell.RunAsync("mount", "-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", path);
        return new SmallDisk(path);
    }

    /// <summary>Bytes in use on the file system.</summary>
    public long UsedBytes
    {
        get
        {
            var drive = new DriveInfo(Path);
            return drive.TotalSize - drive.TotalFreeSpace;
        }
    }

    public long TotalBytes => new DriveInfo(Path).TotalSize;

    public async ValueTask DisposeAsync()
    {
        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await Shell.RunAsync("umount", "--lazy", Path);
        Directory.Delete(Path, recursive: true);
    }
}
