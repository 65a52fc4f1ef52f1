using System.Globalization;
using System.Net;
using System.Text;
using System.Text.Json;
using ExperimentEtl.Reporting;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>GET /report.parquet read back by DuckDB (an independent reader) and compared with GET /report.</summary>
public sealed class ParquetReportTests : IDisposable
{
    readonly string _scratch = Directory.CreateTempSubdirectory("etl-parquet-test-").FullName;

    public void Dispose() => Directory.Delete(_scratch, recursive: true);

    // More users than one row group holds, so the file has a full group and a partial one. Users 1 to 3 have names a CSV
    // must quote or neutralise (the Parquet carries them as they are); every fourth user has no experiment (nulls).
    static readonly int UserCount = ReportParquetWriter.RowGroupRows + 1_001;

    static readonly string[] SpecialNames = ["Doe, Jane", "=cmd()", "Zoë \"Q\" 🧪\nnext line"];

    static TestFiles ManyUsers()
    {
        var users = new StringBuilder("user_id,name,email,signup_date\n");
        var experiments = new StringBuilder("experiment_id,user_id,experiment_compound_ids,experiment_run_time\n");
        for (var id = 1; id <= UserCount; id++)
        {
            var name = id <= SpecialNames.Length ? "\"" + SpecialNames[id - 1].Replace("\"", "\"\"", StringComparison.Ordinal) + "\"" : $"User {id}";
            users.Append(CultureInfo.InvariantCulture, $"{id},{name},u{id}@example.com,2024-01-01\n");
            if (id % 4 != 0)
            {
                experiments.Append(CultureInfo.InvariantCulture, $"{id},{id},{1 + id % 3},5\n");
            }
        }
        return new TestFiles(users.ToString(), "compound_id,compound_name,compound_structure\n1,Alpha,C1\n2,Beta,C2\n3,Gamma,C3", experiments.ToString());
    }

    async Task<ParquetContents> DownloadAsync(HttpClient client)
    {
        var response = await client.GetAsync("/report.parquet");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/vnd.apache.parquet", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("report.parquet", response.Content.Headers.ContentDisposition?.FileName?.Trim('"'));
        var file = Path.Combine(_scratch, "report.parquet");
        await File.WriteAllBytesAsync(file, await response.Content.ReadAsByteArrayAsync());
        return await DuckDbOracle.ReadAsync(file);
    }

    static (int, string?, string?, int, string?, int?) Row(JsonElement user) => (
        user.GetProperty("user_id").GetInt32(),
        user.GetProperty("name").GetString(),
        user.GetProperty("email").GetString(),
        user.GetProperty("count").GetInt32(),
        user.GetProperty("fav_compound").GetString(),
        user.GetProperty("fav_compound_id") is { ValueKind: JsonValueKind.Number } id ? id.GetInt32() : null);

    // One backend: the users come from the same report snapshot as /report's and /report.csv's, which every backend's tests cover.
    [Fact]
    public async Task The_parquet_report_reads_back_in_duckdb_as_the_json_report_with_the_csv_columns_typed()
    {
        using var files = ManyUsers();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);
        var client = app.CreateClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/csv")).StatusCode);

        var parquet = await DownloadAsync(client);

        var report = await (await client.GetAsync("/report")).ReadJsonAsync();
        var expected = report.GetProperty("user_reports").EnumerateArray().Select(Row).ToList();
        Assert.Equal(UserCount, expected.Count);
        Assert.Equal(expected, parquet.Rows.Select(Row));
        Assert.Equal(SpecialNames, parquet.Rows.Take(3).Select(r => r.GetProperty("name").GetString()));
        Assert.Equal(JsonValueKind.Null, parquet.Rows[3].GetProperty("fav_compound").ValueKind);

        // The columns of /report.csv, in its order, as integers and strings; only the favourite may be missing.
        var csvHeader = (await client.GetStringAsync("/report.csv")).Split("\r\n")[0];
        Assert.Equal(csvHeader, string.Join(',', parquet.Columns.Select(c => c.GetProperty("column_name").GetString())));
        Assert.Equal(["INTEGER", "VARCHAR", "VARCHAR", "INTEGER", "VARCHAR", "INTEGER"], parquet.Columns.Select(c => c.GetProperty("column_type").GetString()));
        Assert.Equal(
            [("INT32", "REQUIRED"), ("BYTE_ARRAY", "REQUIRED"), ("BYTE_ARRAY", "REQUIRED"), ("INT32", "REQUIRED"), ("BYTE_ARRAY", "OPTIONAL"), ("INT32", "OPTIONAL")],
            parquet.Schema.Select(c => (c.GetProperty("type").GetString(), c.GetProperty("repetition_type").GetString())));
        Assert.All(parquet.Schema.Where(c => c.GetProperty("type").GetString() == "BYTE_ARRAY"),
            c => Assert.Equal("UTF8", c.GetProperty("converted_type").GetString()));

        // Row groups of a bounded size, written as users stream, zstd-compressed.
        Assert.Equal([ReportParquetWriter.RowGroupRows, UserCount - ReportParquetWriter.RowGroupRows],
            parquet.RowGroups.DistinctBy(g => g.GetProperty("row_group_id").GetString())
                .Select(g => int.Parse(g.GetProperty("row_group_num_rows").GetString()!, CultureInfo.InvariantCulture)));
        Assert.All(parquet.RowGroups, g => Assert.Equal("ZSTD", g.GetProperty("compression").GetString()));
    }

    [Fact]
    public async Task Before_any_run_the_parquet_report_has_the_columns_and_no_rows()
    {
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory);

        var parquet = await DownloadAsync(app.CreateClient());

        Assert.Empty(parquet.Rows);
        Assert.Empty(parquet.RowGroups);
        Assert.Equal(["user_id", "name", "email", "count", "fav_compound", "fav_compound_id"], parquet.Columns.Select(c => c.GetProperty("column_name").GetString()));
    }
}
