using System.Data.Common;
using System.Globalization;

namespace ExperimentEtl.Storage;

/// <summary>ADO.NET commands that run alike on PostgreSQL and SQLite: positional parameters, run ids and times.</summary>
static class DbCommands
{
    /// <summary>A command with positional parameters <c>$1, $2, …</c>, which both databases understand.</summary>
    public static DbCommand Create(DbConnection connection, DbTransaction? transaction, string sql, params object?[] values)
    {
        var command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        var sqlite = connection is Microsoft.Data.Sqlite.SqliteConnection;
        for (var i = 0; i < values.Length; i++)
        {
            var parameter = command.CreateParameter();
            // Npgsql binds $n by position (unnamed); SQLite binds $n by name. SQLite keeps uuids and times as text.
            if (sqlite)
            {
                parameter.ParameterName = "$" + (i + 1).ToString(CultureInfo.InvariantCulture);
            }
            parameter.Value = values[i] switch
            {
                null => DBNull.Value,
                Guid id when sqlite => id.ToString(),
                DateTimeOffset time when sqlite => time.ToUniversalTime().ToString("O", CultureInfo.InvariantCulture),
                var value => value,
            };
            command.Parameters.Add(parameter);
        }
        return command;
    }

    public static Guid GetId(DbDataReader reader, int ordinal) => reader.GetValue(ordinal) switch
    {
        Guid id => id,
        var text => Guid.Parse((string)text),
    };

    public static Guid? GetNullableId(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : GetId(reader, ordinal);

    public static DateTimeOffset GetTime(DbDataReader reader, int ordinal) => reader.GetValue(ordinal) switch
    {
        DateTimeOffset time => time,
        DateTime time => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)),
        var text => DateTimeOffset.Parse((string)text, CultureInfo.InvariantCulture),
    };

    public static long? GetNullableInt64(DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt64(ordinal);
}
