namespace ExperimentEtl.Model;

/// <summary>When a reload writes only what changed, and where the comparison state it needs is kept.</summary>
/// <param name="MaxChangedShare">
/// The share of the data set's rows (users, compounds and experiments together) up to which a reload writes only the
/// changes (<c>ETL_APPLY_CHANGES_UP_TO</c>, 0 to 1; 0 turns change-only reloads off); past it, it loads in full.
/// </param>
/// <param name="StateDirectory">
/// Where the comparison state is kept (<c>ETL_STATE_DIR</c>); by default beside a SQLite database's file, and in the
/// system's temporary folder for a PostgreSQL server.
/// </param>
public sealed record ChangeApplySettings(double MaxChangedShare = ChangeApplySettings.DefaultMaxChangedShare, string? StateDirectory = null)
{
    // Measured at L (docs/benchmarks.md): a reload that changed 0.18 % of the rows took 0.65 times a full load on
    // PostgreSQL, one that changed 1.8 % took longer than a full load, on PostgreSQL and on SQLite alike.
    public const double DefaultMaxChangedShare = 0.005;

    public static readonly ChangeApplySettings Default = new();
}
