using ExperimentEtl.Model;

namespace ExperimentEtl.Configuration;

/// <summary>Settings of the ETL itself.</summary>
public sealed class EtlOptions
{
    public const long DefaultMaxUploadBytes = 2L * 1024 * 1024 * 1024;

    /// <summary>The folder runs without an upload read users.csv, compounds.csv and user_experiments.csv from (<c>ETL_DATA_DIR</c>).</summary>
    public required string DataDirectory { get; init; }

    /// <summary>The largest upload accepted, all three files together (<c>ETL_MAX_UPLOAD_BYTES</c>); larger answers 413.</summary>
    public long MaxUploadBytes { get; init; } = DefaultMaxUploadBytes;

    /// <summary>Where uploads are kept while their run lasts (<c>ETL_UPLOAD_DIR</c>); the system's temporary folder by default.</summary>
    public string UploadDirectory { get; init; } = Path.GetTempPath();

    /// <summary>
    /// What a run may use (<c>ETL_MEMORY_LIMIT_MB</c>, default 512 MB) and where its feature state spills beyond that:
    /// a private folder in the system's temporary folder.
    /// </summary>
    public MemoryBudget MemoryBudget { get; init; } = MemoryBudget.Default;

    /// <summary>
    /// How many data reads (<c>/api/users</c>, <c>/api/compounds</c>, <c>/api/summary</c>) run at once
    /// (<c>ETL_READ_CONCURRENCY</c>, default four per core, at most 64); the rest wait their turn, oldest first.
    /// </summary>
    public int ReadConcurrency { get; init; } = DefaultReadConcurrency;

    // At most 64 by default: each running read holds a database connection, and Npgsql's pool has 100.
    public static int DefaultReadConcurrency => Math.Min(4 * Environment.ProcessorCount, 64);

    public const int MaxReadConcurrency = 10_000;

    /// <summary>How many rows of each load's change lists are kept, and for how many loads (<c>ETL_CHANGE_LIST_LIMIT</c>, <c>ETL_CHANGE_LISTS_KEPT</c>).</summary>
    public ChangeListSettings ChangeLists { get; init; } = ChangeListSettings.Default;

    /// <summary>When a reload writes only what changed (<c>ETL_APPLY_CHANGES_UP_TO</c>) and where its comparison state is kept (<c>ETL_STATE_DIR</c>).</summary>
    public ChangeApplySettings ChangeApply { get; init; } = ChangeApplySettings.Default;

    /// <summary>When set (<c>API_KEY</c>), endpoints that change data require it in the <c>X-Api-Key</c> header. Set but blank is an error.</summary>
    public string? ApiKey { get; init; }

    /// <exception cref="ConfigurationException">A setting is malformed.</exception>
    public static EtlOptions From(IConfiguration configuration)
    {
        var maxUpload = DefaultMaxUploadBytes;
        if (configuration["ETL_MAX_UPLOAD_BYTES"] is { Length: > 0 } text && (!long.TryParse(text, out maxUpload) || maxUpload <= 0))
        {
            throw new ConfigurationException("ETL_MAX_UPLOAD_BYTES must be a positive number of bytes.");
        }
        var memoryLimit = (long)MemoryBudget.DefaultMegabytes;
        if (configuration["ETL_MEMORY_LIMIT_MB"] is { Length: > 0 } megabytes
            && (!long.TryParse(megabytes, out memoryLimit) || memoryLimit is <= 0 or > 1L << 40))
        {
            throw new ConfigurationException("ETL_MEMORY_LIMIT_MB must be a positive whole number of megabytes.");
        }
        var readConcurrency = DefaultReadConcurrency;
        if (configuration["ETL_READ_CONCURRENCY"] is { Length: > 0 } reads
            && (!int.TryParse(reads, out readConcurrency) || readConcurrency is <= 0 or > MaxReadConcurrency))
        {
            throw new ConfigurationException($"ETL_READ_CONCURRENCY must be a whole number from 1 to {MaxReadConcurrency}.");
        }
        var listLimit = WholeNumber(configuration, "ETL_CHANGE_LIST_LIMIT", ChangeListSettings.Default.ListLimit, 0, 100_000_000);
        var keptLoads = WholeNumber(configuration, "ETL_CHANGE_LISTS_KEPT", ChangeListSettings.Default.KeptLoads, 1, 100_000);
        var changedShare = ChangeApplySettings.DefaultMaxChangedShare;
        if (configuration["ETL_APPLY_CHANGES_UP_TO"] is { Length: > 0 } share
            && (!double.TryParse(share, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out changedShare)
                || changedShare is < 0 or > 1 || double.IsNaN(changedShare)))
        {
            throw new ConfigurationException("ETL_APPLY_CHANGES_UP_TO must be a share from 0 to 1 (0 turns change-only reloads off).");
        }
        // An empty key left by a template or a failed secret lookup must not quietly open the endpoints that change data.
        var apiKey = configuration["API_KEY"];
        if (apiKey is not null && string.IsNullOrWhiteSpace(apiKey))
        {
            throw new ConfigurationException("API_KEY is set but empty; set it to the key clients must send, or unset it to run without a key.");
        }
        return new EtlOptions
        {
            DataDirectory = configuration["ETL_DATA_DIR"] is { Length: > 0 } directory
                ? Path.GetFullPath(directory)
                : Path.Combine(AppContext.BaseDirectory, "data"),
            MaxUploadBytes = maxUpload,
            MemoryBudget = new MemoryBudget(memoryLimit * 1024 * 1024, Path.GetTempPath()),
            UploadDirectory = configuration["ETL_UPLOAD_DIR"] is { Length: > 0 } uploads ? Path.GetFullPath(uploads) : Path.GetTempPath(),
            ApiKey = apiKey,
            ReadConcurrency = readConcurrency,
            ChangeLists = new ChangeListSettings(listLimit, keptLoads),
            ChangeApply = new ChangeApplySettings(changedShare,
                configuration["ETL_STATE_DIR"] is { Length: > 0 } stateDirectory ? Path.GetFullPath(stateDirectory) : null),
        };
    }

    static int WholeNumber(IConfiguration configuration, string name, int defaultValue, int min, int max)
    {
        var value = defaultValue;
        if (configuration[name] is { Length: > 0 } text && (!int.TryParse(text, out value) || value < min || value > max))
        {
            throw new ConfigurationException($"{name} must be a whole number from {min} to {max}.");
        }
        return value;
    }
}
