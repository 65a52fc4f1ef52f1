using ExperimentEtl.Model;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// PostgreSQL storage. A load writes the new data set as a generation of its own (<see cref="Generations"/>) through
/// binary COPY, adds keys once the rows are in, and publishes it at commit; readers keep reading the generation they
/// pinned, and are never blocked by a load nor block one.
/// </summary>
public sealed class PostgresEtlStore(NpgsqlDataSource dataSource, ChangeListSettings changes) : PostgresStoreBase(dataSource, changes)
{
    public const string ProviderName = "postgresql";

    public override string Provider => ProviderName;

    /// <summary>
    /// Empty, or the data set a version that swapped tables in place left in the database's own schema, taken over as it is.
    /// </summary>
    protected override async Task<string> CreateFirstGenerationAsync(NpgsqlConnection connection, long generation, CancellationToken cancellationToken)
    {
        var schema = Generations.Schema(generation);
        return $"CREATE SCHEMA {schema};" + (await HoldsSwappedLayoutAsync(connection, cancellationToken)
            ? AdoptSwappedLayout(schema)
            : string.Concat(DataSetTables.All.Select(t => PgSchema.CreateTable(schema, t, withKey: true))));
    }

    static async Task<bool> HoldsSwappedLayoutAsync(NpgsqlConnection connection, CancellationToken cancellationToken) =>
        await PgSql.ScalarAsync(connection,
            "SELECT count(*) = 7 FROM pg_tables WHERE schemaname = current_schema() AND tablename = ANY('{users,compounds,experiments,user_features,user_favorites,compound_features,dataset}')",
            cancellationToken) is true;

    /// <summary>
    /// Moves the tables of the earlier layout into the first generation (a catalog change: no row is copied), with
    /// that layout's own migration first: before fav_compound_name, the favourite's name was read from compounds.
    /// </summary>
    static string AdoptSwappedLayout(string schema) => $$"""
        DO $$
        BEGIN
            IF NOT EXISTS (SELECT FROM information_schema.columns
                           WHERE table_schema = current_schema() AND table_name = 'user_features' AND column_name = 'fav_compound_name') THEN
                ALTER TABLE user_features ADD COLUMN fav_compound_name text;
                UPDATE user_features f SET fav_compound_name = c.name FROM compounds c WHERE c.compound_id = f.fav_compound_id;
            END IF;
        END $$;
        {{string.Concat(DataSetTables.All.Select(t => $"ALTER TABLE {t.Name} SET SCHEMA {schema};"))}}
        DROP TABLE IF EXISTS {{string.Join(", ", DataSetTables.All.Select(t => t.Name + "_next"))}};
        """;

    public override IDataSetLoad BeginLoad() => new PostgresLoad(DataSource, ChangeLists);

    public override IDataSetPatch? BeginPatch() => new PostgresPatch(DataSource, ChangeLists);

    /// <summary>In the system's temporary folder, named after the server and database (never the password).</summary>
    public override string? ComparisonStatePath
    {
        get
        {
            var builder = new NpgsqlConnectionStringBuilder(DataSource.ConnectionString);
            var name = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(
                System.Text.Encoding.UTF8.GetBytes($"{builder.Host}:{builder.Port}/{builder.Database}")))[..24];
            return Path.Combine(Path.GetTempPath(), "experiment-etl-state", $"postgres-{name}.etl-state");
        }
    }
}
