namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>A small tmpfs mounted for one test (a disk that really fills up); unmounted and removed on dispose. Needs root.</summary>
public sealed class Tmpfs : IAsyncDisposable
{
    Tmpfs(string path) => Path = path;

    public string Path { get; }

    public static async Task<Tmpfs> MountAsync(string size)
    {
        var path = Directory.CreateTempSubdirectory("etl-test-tmpfs-").FullName;
        try
        {
            await Shell.RunAsync("mount", "-t", "tmpfs", "-o", $"size={size},mode=0700", "tmpfs", path);
        }
        catch
        {
            Directory.Delete(path);
            throw;
        }
        return new Tmpfs(path);
    }

    /// <summary>Why a tmpfs cannot be mounted here (not root, no CAP_SYS_ADMIN), or null when it can.</summary>
    public static readonly Lazy<string?> Unavailable = new(() =>
    {
        try
        {
            Task.Run(async () => await (await MountAsync("64k")).DisposeAsync()).GetAwaiter().GetResult();
            return null;
        }
        catch (Exception e)
        {
            return $"this test mounts a tmpfs, which needs root (or CAP_SYS_ADMIN): {e.Message.Trim()}";
        }
    });

    public async ValueTask DisposeAsync()
    {
        await Shell.RunAsync("umount", Path);
        Directory.Delete(Path);
    }
}

/// <summary>A test that needs <see cref="Tmpfs"/>: skipped, with the reason, where mounting one is not permitted.</summary>
public sealed class TmpfsFactAttribute : FactAttribute
{
    public TmpfsFactAttribute()
    {
        if (Tmpfs.Unavailable.Value is { } reason)
        {
            Skip = reason;
        }
    }
}
