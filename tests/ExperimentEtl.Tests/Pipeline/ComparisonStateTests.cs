using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Tests.Pipeline;

/// <summary>The comparison state a change-only reload compares the files with: its file, and its index by id.</summary>
public sealed class ComparisonStateTests
{
    [Theory]
    [InlineData(new[] { 1, 2, 3, 5, 8 })] // dense: an array by id
    [InlineData(new[] { 7, -3, 1_000_000, 2_000_000_000, int.MinValue + 1 })] // sparse: sorted ids
    public void The_index_finds_each_row_by_id_and_names_the_ids_never_found(int[] ids)
    {
        var rows = ids.Select((id, i) => (Id: id, Value: 100L + i, Second: -5L * i)).ToList();
        var index = new FingerprintIndex(ids.Length, ids.Min(), ids.Max(), second: true, () => rows);

        for (var i = 0; i < ids.Length; i += 2)
        {
            Assert.True(index.TryFind(ids[i], out var value, out var second));
            Assert.Equal((100L + i, -5L * i), (value, second));
        }
        Assert.False(index.TryFind(4, out _, out _));
        Assert.False(index.TryFind(int.MaxValue, out _, out _));

        Assert.Equal(ids.Where((_, i) => i % 2 == 1).Order(), index.Unseen().Order());
    }

    [Fact]
    public void A_state_file_reads_back_as_written_and_a_cut_or_foreign_file_reads_as_none()
    {
        var folder = Directory.CreateTempSubdirectory("etl-test-state-").FullName;
        try
        {
            var path = Path.Combine(folder, "data.etl-state");
            var runId = Guid.NewGuid();
            using (var writer = ComparisonState.Create(path))
            {
                writer.AddCompound(3, 33);
                writer.AddCompound(1, 11);
                writer.AddExperiment(10, 1010);
                writer.AddExperiment(12, 1212);
                writer.AddExperiment(11, 1111);
                writer.AddFeatures(new DataSetFeatures(2, 2, 3, 1,
                    [new UserFeature(5, 2, 3, RowFingerprint: 55, ExperimentsFingerprint: 555), new UserFeature(6, 1, 1, RowFingerprint: 0, ExperimentsFingerprint: -6)],
                    [], [new CompoundFeature(3, 2, 1), new CompoundFeature(1, 1, 1)]));
                Assert.Null(ComparisonState.ReadIdentity(path)); // Not in place before it is published.
                writer.Publish(runId);
            }

            Assert.Equal(new DataSetIdentity(runId, 2, 2, 3), ComparisonState.ReadIdentity(path));
            var state = ComparisonState.Read(path)!;
            Assert.True(state.Experiments.TryFind(12, out var experiment, out _));
            Assert.Equal(1212, experiment);
            Assert.True(state.Users.TryFind(6, out var row, out var experiments));
            Assert.Equal((1L, -6L), (row, experiments)); // A fingerprint of 0 is kept as 1: 0 means no row.
            Assert.True(state.Compounds.TryFind(3, out var compound, out _));
            Assert.Equal(33, compound);
            Assert.Equal((2L, 1), state.Usage[3]);
            Assert.Equal([10, 11], state.Experiments.Unseen().Order());

            // Cut short (a full disk, a copy interrupted): no state, so the next run loads in full.
            var bytes = File.ReadAllBytes(path);
            File.WriteAllBytes(path, bytes[..^4]);
            Assert.Null(ComparisonState.ReadIdentity(path));
            Assert.Null(ComparisonState.Read(path));
            File.WriteAllText(path, "users.csv");
            Assert.Null(ComparisonState.ReadIdentity(path));
            Assert.Empty(Directory.GetFiles(folder, "*.tmp"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    [Fact]
    public void A_state_never_published_leaves_no_file()
    {
        var folder = Directory.CreateTempSubdirectory("etl-test-state-").FullName;
        try
        {
            using (var writer = ComparisonState.Create(Path.Combine(folder, "data.etl-state")))
            {
                writer.AddCompound(1, 1);
            }
            Assert.Empty(Directory.GetFiles(folder));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
