namespace ExperimentEtl.Model;

/// <summary>
/// How much memory a run may use (<c>ETL_MEMORY_LIMIT_MB</c>), and where the feature state spills to when it would use more.
/// </summary>
/// <param name="Bytes">The whole process's budget.</param>
/// <param name="SpillParent">The folder under which each run that spills makes a private folder of its own.</param>
public sealed record MemoryBudget(long Bytes, string SpillParent)
{
    public const int DefaultMegabytes = 512;

    /// <summary>Spill folders are <c>{SpillParent}/etl-spill-{random}</c>.</summary>
    public const string SpillPrefix = "etl-spill-";

    public static MemoryBudget Default { get; } = new(DefaultMegabytes * 1024L * 1024, Path.GetTempPath());

    /// <summary>
    /// The (user, compound) pair state's share. The rest goes to the runtime and its heap's slack, the per-user
    /// arrays (about 30 bytes a user), the database client's buffers and the row queues.
    /// </summary>
    public long PairBytes => Bytes / 4;

    /// <summary>Deletes the spill folders of runs whose process was killed; returns how many.</summary>
    public static int DeleteAbandonedSpills(string spillParent) => ScratchFolder.DeleteAbandoned(spillParent, SpillPrefix);
}
