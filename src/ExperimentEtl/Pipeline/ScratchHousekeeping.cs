using ExperimentEtl.Configuration;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Start-up housekeeping, for the service and the command-line tool alike: deletes the upload folders and the spilled
/// feature state that runs of killed processes left behind, which would otherwise stay on disk for good. Folders still
/// locked by a live process (another replica, a tool run) are left alone.
/// </summary>
public sealed class ScratchHousekeeping(EtlOptions options, ILogger<ScratchHousekeeping> logger) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (DataSetSource.DeleteAbandonedUploads(options.UploadDirectory) is > 0 and var uploads)
        {
            StartupSchema.LogAbandonedUploadsDeleted(logger, uploads, options.UploadDirectory);
        }
        if (MemoryBudget.DeleteAbandonedSpills(options.MemoryBudget.SpillParent) is > 0 and var spills)
        {
            StartupSchema.LogAbandonedSpillsDeleted(logger, spills, options.MemoryBudget.SpillParent);
        }
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
