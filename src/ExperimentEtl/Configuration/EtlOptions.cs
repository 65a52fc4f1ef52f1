namespace ExperimentEtl.Configuration;

/// <summary>Settings of the ETL itself.</summary>
public sealed class EtlOptions
{
    /// <summary>The folder <c>/csv</c> reads users.csv, compounds.csv and user_experiments.csv from (<c>ETL_DATA_DIR</c>).</summary>
    public required string DataDirectory { get; init; }

    public static EtlOptions From(IConfiguration configuration) => new()
    {
        DataDirectory = configuration["ETL_DATA_DIR"] is { Length: > 0 } directory
            ? Path.GetFullPath(directory)
            : Path.Combine(AppContext.BaseDirectory, "data"),
    };
}
