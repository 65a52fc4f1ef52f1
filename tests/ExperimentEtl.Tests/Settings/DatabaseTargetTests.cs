using ExperimentEtl.Configuration;
using Microsoft.Extensions.Configuration;
using Npgsql;

namespace ExperimentEtl.Tests.Settings;

public sealed class DatabaseTargetTests
{
    static DatabaseTarget From(params (string Key, string Value)[] settings) => DatabaseTarget.From(
        new ConfigurationBuilder().AddInMemoryCollection(settings.Select(s => KeyValuePair.Create(s.Key, (string?)s.Value))).Build());

    [Fact]
    public void Nothing_configured_is_the_embedded_in_memory_database() =>
        Assert.Equal(new DatabaseTarget(DatabaseKind.SqliteEphemeral, null), From());

    [Fact]
    public void A_postgres_url_becomes_a_connection_string_with_its_escaped_parts()
    {
        var target = From(("DATABASE_URL", "postgres://lab%40user:p%3Ass%2Fw@db.local:5433/experiments?sslmode=require"));

        Assert.Equal(DatabaseKind.Postgres, target.Kind);
        var builder = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        Assert.Equal(("lab@user", "p:ss/w", "db.local", 5433, "experiments", SslMode.Require),
            (builder.Username, builder.Password, builder.Host, builder.Port, builder.Database, builder.SslMode));
        Assert.DoesNotContain("p:ss/w", target.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void An_npgsql_connection_string_and_a_file_path_are_recognised()
    {
        Assert.Equal(DatabaseKind.Postgres, From(("DATABASE_URL", "Host=localhost;Database=etl;Username=etl")).Kind);
        Assert.Equal(DatabaseKind.Postgres, From(("DATABASE_URL", "Host=db")).Kind);
        Assert.Equal(DatabaseKind.Postgres, From(("DATABASE_URL", "Database=etl; Server=db")).Kind);
        Assert.Equal(new DatabaseTarget(DatabaseKind.SqliteFile, "experiments.db"), From(("DATABASE_URL", "experiments.db")));
    }

    [Fact]
    public void The_seed_settings_name_a_postgres_host_and_need_a_password()
    {
        var error = Assert.Throws<ConfigurationException>(() => From(("API_DB_PATH", "test_postgres")));
        Assert.Contains("API_DB_PASSWORD", error.Message, StringComparison.Ordinal);

        var target = From(("API_DB_PATH", "test_postgres"), ("API_DB_PASSWORD", "secret"));
        var builder = new NpgsqlConnectionStringBuilder(target.ConnectionString);
        Assert.Equal(("test_postgres", 5432, "testdb", "postgres"), (builder.Host, builder.Port, builder.Database, builder.Username));
    }

    [Fact]
    public void A_malformed_url_is_a_configuration_error() =>
        Assert.Throws<ConfigurationException>(() => From(("DATABASE_URL", "postgres://")));
}
