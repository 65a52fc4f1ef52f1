using ExperimentEtl.Configuration;
using Microsoft.Extensions.Configuration;

namespace ExperimentEtl.Tests.Settings;

public sealed class EtlOptionsTests
{
    static EtlOptions From(params (string Key, string Value)[] settings) => EtlOptions.From(
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());

    [Fact]
    public void The_memory_limit_is_512_MB_unless_set_and_spills_go_to_the_temporary_folder()
    {
        Assert.Equal(512L << 20, From().MemoryBudget.Bytes);
        Assert.Equal(64L << 20, From(("ETL_MEMORY_LIMIT_MB", "64")).MemoryBudget.Bytes);
        Assert.Equal(Path.GetTempPath(), From().MemoryBudget.SpillParent);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    [InlineData("lots")]
    [InlineData("1.5")]
    public void A_memory_limit_that_is_not_a_positive_number_of_megabytes_is_refused(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => From(("ETL_MEMORY_LIMIT_MB", value)));
        Assert.Contains("ETL_MEMORY_LIMIT_MB", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Four_reads_per_core_run_at_once_at_most_64_unless_set()
    {
        Assert.Equal(Math.Min(4 * Environment.ProcessorCount, 64), From().ReadConcurrency);
        Assert.Equal(3, From(("ETL_READ_CONCURRENCY", "3")).ReadConcurrency);
    }

    [Theory]
    [InlineData("0")]
    [InlineData("-1")]
    [InlineData("many")]
    [InlineData("10001")]
    public void A_read_concurrency_that_is_not_a_whole_number_from_1_to_10000_is_refused(string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => From(("ETL_READ_CONCURRENCY", value)));
        Assert.Contains("ETL_READ_CONCURRENCY", error.Message, StringComparison.Ordinal);
    }
}
