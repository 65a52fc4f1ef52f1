using System.Globalization;
using ExperimentEtl.Model;

namespace ExperimentEtl.Reporting;

/// <summary>The report as RFC 4180 CSV, one user a line, streamed as it is read.</summary>
public static class ReportCsvWriter
{
    public const string Header = "user_id,name,email,count,fav_compound,fav_compound_id";

    public static async Task WriteAsync(TextWriter writer, IAsyncEnumerable<UserReport> users, CancellationToken cancellationToken)
    {
        await writer.WriteAsync(Header + "\r\n");
        await foreach (var user in users.WithCancellation(cancellationToken))
        {
            await writer.WriteAsync(string.Join(',',
                user.UserId.ToString(CultureInfo.InvariantCulture),
                Field(user.Name),
                Field(user.Email),
                user.Count.ToString(CultureInfo.InvariantCulture),
                Field(user.FavCompound),
                user.FavCompoundId?.ToString(CultureInfo.InvariantCulture) ?? "") + "\r\n");
        }
        await writer.FlushAsync(cancellationToken);
    }

    /// <summary>Quotes a field when it holds a separator, a quote or a line break; a leading formula character is neutralised for spreadsheets.</summary>
    public static string Field(string? value)
    {
        if (string.IsNullOrEmpty(value))
        {
            return "";
        }
        if (value[0] is '=' or '+' or '-' or '@')
        {
            value = "'" + value;
        }
        return value.AsSpan().IndexOfAny(",\"\r\n") >= 0 ? "\"" + value.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : value;
    }
}
