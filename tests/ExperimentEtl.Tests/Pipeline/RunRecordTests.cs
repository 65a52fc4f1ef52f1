using ExperimentEtl.Model;

namespace ExperimentEtl.Tests.Pipeline;

public sealed class RunRecordTests
{
    static readonly FileStats UsersDone = new("users.csv", 10, 10, 0, 100, 100);

    static RunRecord Running(params FileStats[] files) =>
        RunRecord.Queue(DateTimeOffset.UnixEpoch, RunMode.Strict, RunSource.DataFolder) with { Status = RunStatus.Running, Files = files };

    [Fact]
    public void Progress_counts_the_files_not_started_yet_when_the_input_size_is_known()
    {
        Assert.Equal(0.1, (Running(UsersDone) with { InputBytes = 1000 }).Progress);
        Assert.Equal(0.55, (Running(UsersDone, new FileStats("compounds.csv", 3, 3, 0, 450, 900)) with { InputBytes = 1000 }).Progress);
    }

    [Fact]
    public void Progress_falls_back_to_the_files_started_so_far_and_is_whole_once_the_run_has_ended()
    {
        Assert.Equal(1.0, Running(UsersDone).Progress);
        Assert.Equal(0.0, Running().Progress);
        Assert.Equal(1.0, (Running(new FileStats("users.csv", 1, 0, 0, 5, 100)) with { Status = RunStatus.Failed }).Progress);
    }
}
