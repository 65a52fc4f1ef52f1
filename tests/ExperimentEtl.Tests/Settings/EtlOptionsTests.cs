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

    [Fact]
    public void Four_reads_per_core_run_at_once_at_most_64_unless_set()
    {
        Assert.Equal(Math.Min(4 * Environment.ProcessorCount, 64), From().ReadConcurrency);
        Assert.Equal(3, From(("ETL_READ_CONCURRENCY", "3")).ReadConcurrency);
    }

    [Theory]
    [InlineData("ETL_MEMORY_LIMIT_MB", "0")]
    [InlineData("ETL_MEMORY_LIMIT_MB", "-5")]
    [InlineData("ETL_MEMORY_LIMIT_MB", "lots")]
    [InlineData("ETL_MEMORY_LIMIT_MB", "1.5")]
    [InlineData("ETL_READ_CONCURRENCY", "0")]
    [InlineData("ETL_READ_CONCURRENCY", "-1")]
    [InlineData("ETL_READ_CONCURRENCY", "many")]
    [InlineData("ETL_READ_CONCURRENCY", "10001")]
    public void A_memory_limit_or_read_concurrency_out_of_range_is_refused_naming_the_setting(string setting, string value)
    {
        var error = Assert.Throws<ConfigurationException>(() => From((setting, value)));
        Assert.Contains(setting, error.Message, StringComparison.Ordinal);
    }
}
