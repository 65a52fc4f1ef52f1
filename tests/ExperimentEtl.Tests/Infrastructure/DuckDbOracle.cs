using System.Text.Json;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>What DuckDB, a reader independent of the service, reads from a Parquet file.</summary>
/// <param name="Schema">Per leaf column: name, physical type, repetition (REQUIRED or OPTIONAL), converted and logical type.</param>
/// <param name="RowGroups">Per row group and column: rows in the group and compression.</param>
/// <param name="Columns">The columns as DuckDB types them (column_name, column_type).</param>
/// <param name="Rows">Every row as an object of its columns.</param>
public sealed record ParquetContents(JsonElement[] Schema, JsonElement[] RowGroups, JsonElement[] Columns, JsonElement[] Rows);

/// <summary>
/// Runs tests/oracle/read-parquet.mjs (DuckDB's Node.js client) on a file. scripts/test.sh installs Node.js and the
/// client (npm ci); run outside it, the first use installs the client with npm ci itself.
/// </summary>
public static class DuckDbOracle
{
    static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);
    static readonly Lazy<Task> Installed = new(InstallAsync);

    static string Folder => Path.Combine(TestPostgres.RepositoryRoot(), "tests", "oracle");

    public static async Task<ParquetContents> ReadAsync(string parquetFile)
    {
        await Installed.Value;
        var output = await Shell.RunAsync("node", Path.Combine(Folder, "read-parquet.mjs"), "rows", parquetFile).WaitAsync(Timeout);
        var root = JsonDocument.Parse(output).RootElement;
        JsonElement[] Array(string name) => [.. root.GetProperty(name).EnumerateArray().Select(e => e.Clone())];
        return new ParquetContents(Array("schema"), Array("row_groups"), Array("columns"), Array("rows"));
    }

    static async Task InstallAsync()
    {
        if (!Directory.Exists(Path.Combine(Folder, "node_modules", "@duckdb", "node-api")))
        {
            await Shell.RunAsync("npm", "ci", "--prefix", Folder, "--no-audit", "--no-fund").WaitAsync(Timeout);
        }
    }
}
