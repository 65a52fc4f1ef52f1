using Npgsql;

namespace ExperimentEtl.Configuration;

/// <summary>The database chosen by configuration: <c>DATABASE_URL</c>, or the seed's <c>API_DB_PATH</c>, or an ephemeral embedded database.</summary>
public sealed partial record DatabaseTarget(DatabaseKind Kind, string? ConnectionString)
{
    /// <summary>Never the connection string: it may hold a password.</summary>
    public override string ToString() => Describe();

    /// <summary>What the operator sees in logs and health answers: never the password.</summary>
    public string Describe() => Kind switch
    {
        DatabaseKind.SqliteEphemeral => "embedded SQLite (ephemeral: a private temporary file, deleted when the process ends)",
        DatabaseKind.SqliteFile => $"embedded SQLite file {ConnectionString}",
        _ => DescribePostgres(ConnectionString!),
    };

    static string DescribePostgres(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database}";
    }

    /// <exception cref="ConfigurationException">The settings are incomplete or malformed.</exception>
    public static DatabaseTarget From(IConfiguration configuration)
    {
        var url = configuration["DATABASE_URL"]?.Trim();
        if (!string.IsNullOrEmpty(url))
        {
            return Parse(url);
        }
        var host = configuration["API_DB_PATH"]?.Trim();
        if (!string.IsNullOrEmpty(host))
        {
            var password = configuration["API_DB_PASSWORD"];
            if (string.IsNullOrEmpty(password))
            {
                throw new ConfigurationException(
                    "API_DB_PATH is set but API_DB_PASSWORD is not: set API_DB_PASSWORD to the password of the 'postgres' user.");
            }
            var builder = new NpgsqlConnectionStringBuilder
            {
                Host = host,
                Port = 5432,
                Database = "testdb",
                Username = "postgres",
                Password = password,
            };
            return new DatabaseTarget(DatabaseKind.Postgres, builder.ConnectionString);
        }
        return new DatabaseTarget(DatabaseKind.SqliteEphemeral, null);
    }

    /// <summary>Reads a <c>postgres://</c> URL, an Npgsql connection string, or a SQLite file path.</summary>
    public static DatabaseTarget Parse(string value)
    {
        if (value.StartsWith("postgres://", StringComparison.OrdinalIgnoreCase) ||
            value.StartsWith("postgresql://", StringComparison.OrdinalIgnoreCase))
        {
            return new DatabaseTarget(DatabaseKind.Postgres, FromUrl(value));
        }
        if (ConnectionStringHost().IsMatch(value))
        {
            try
            {
                return new DatabaseTarget(DatabaseKind.Postgres, new NpgsqlConnectionStringBuilder(value).ConnectionString);
            }
            catch (ArgumentException e)
            {
                throw new ConfigurationException($"DATABASE_URL is not a valid PostgreSQL connection string: {e.Message}");
            }
        }
        if (value.StartsWith("sqlite:", StringComparison.OrdinalIgnoreCase))
        {
            value = value["sqlite:".Length..].TrimStart('/');
        }
        return value is ":memory:" or "" ? new DatabaseTarget(DatabaseKind.SqliteEphemeral, null) : new DatabaseTarget(DatabaseKind.SqliteFile, value);
    }

    static string FromUrl(string value)
    {
        if (!Uri.TryCreate(value, UriKind.Absolute, out var uri) || string.IsNullOrEmpty(uri.Host))
        {
            throw new ConfigurationException("DATABASE_URL is not a valid URL: expected postgres://user:password@host:port/database");
        }
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = uri.Host,
            Port = uri.IsDefaultPort || uri.Port <= 0 ? 5432 : uri.Port,
            Database = Uri.UnescapeDataString(uri.AbsolutePath.TrimStart('/')) is { Length: > 0 } database ? database : "postgres",
        };
        var userInfo = uri.UserInfo.Split(':', 2);
        if (userInfo[0].Length > 0)
        {
            builder.Username = Uri.UnescapeDataString(userInfo[0]);
        }
        if (userInfo.Length == 2)
        {
            builder.Password = Uri.UnescapeDataString(userInfo[1]);
        }
        // Query parameters (sslmode=require, ...) are passed on as connection string keywords.
        foreach (var pair in uri.Query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var parts = pair.Split('=', 2);
            try
            {
                builder[Uri.UnescapeDataString(parts[0])] = parts.Length == 2 ? Uri.UnescapeDataString(parts[1]) : "";
            }
            catch (ArgumentException)
            {
                throw new ConfigurationException($"DATABASE_URL has an unknown parameter '{parts[0]}'");
            }
        }
        return builder.ConnectionString;
    }

    /// <summary>A <c>Host=</c> or <c>Server=</c> key, as an Npgsql connection string names its server.</summary>
    [System.Text.RegularExpressions.GeneratedRegex(@"(?:^|;)\s*(?:host|server)\s*=", System.Text.RegularExpressions.RegexOptions.IgnoreCase)]
    private static partial System.Text.RegularExpressions.Regex ConnectionStringHost();
}

public enum DatabaseKind
{
    SqliteEphemeral,
    SqliteFile,
    Postgres,
}

/// <summary>A setting is missing or wrong: reported to the operator as one line, without a stack trace.</summary>
public sealed class ConfigurationException(string message) : Exception(message);
