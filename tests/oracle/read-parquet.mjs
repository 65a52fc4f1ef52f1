// Reads a Parquet file with DuckDB, a reader independent of the service, and prints what it sees as JSON.
//   node read-parquet.mjs rows FILE              -> {"schema": [...], "row_groups": [...], "columns": [...], "rows": [...]}
//   node read-parquet.mjs compare FILE REPORT    -> {"parquet_rows", "report_rows", "only_in_parquet", "only_in_report"}
// "compare" checks, inside DuckDB, the file's rows against the user_reports of a GET /report answer saved as REPORT;
// it is for reports too large to print (the benchmark's million users).
import { DuckDBInstance } from '@duckdb/node-api';

const [command, file, report] = process.argv.slice(2);
const quote = (text) => `'${text.replaceAll("'", "''")}'`;

const instance = await DuckDBInstance.create(':memory:');
const connection = await instance.connect();
const query = async (sql) => (await connection.runAndReadAll(sql)).getRowObjectsJson();

if (command === 'rows') {
  const schema = await query(`SELECT name, type, repetition_type, converted_type, logical_type FROM parquet_schema(${quote(file)}) WHERE num_children IS NULL`);
  const rowGroups = await query(`SELECT row_group_id, row_group_num_rows, path_in_schema, compression FROM parquet_metadata(${quote(file)}) ORDER BY row_group_id, column_id`);
  const columns = await query(`SELECT column_name, column_type FROM (DESCRIBE SELECT * FROM read_parquet(${quote(file)}))`);
  const rows = await query(`SELECT * FROM read_parquet(${quote(file)})`);
  process.stdout.write(JSON.stringify({ schema, row_groups: rowGroups, columns, rows }));
} else if (command === 'compare') {
  // The report is one JSON object whose user_reports array holds every user.
  await connection.run(`CREATE TABLE report AS SELECT unnest(user_reports, recursive := true)
                        FROM read_json(${quote(report)}, maximum_object_size = 2147483647)`);
  await connection.run(`CREATE TABLE parquet AS SELECT * FROM read_parquet(${quote(file)})`);
  const columns = 'user_id, name, email, count, fav_compound, fav_compound_id';
  const [result] = await query(`SELECT
      (SELECT count(*) FROM parquet) AS parquet_rows,
      (SELECT count(*) FROM report) AS report_rows,
      (SELECT count(*) FROM (SELECT ${columns} FROM parquet EXCEPT ALL SELECT ${columns} FROM report)) AS only_in_parquet,
      (SELECT count(*) FROM (SELECT ${columns} FROM report EXCEPT ALL SELECT ${columns} FROM parquet)) AS only_in_report`);
  process.stdout.write(JSON.stringify(result) + '\n');
} else {
  process.stderr.write('usage: node read-parquet.mjs rows FILE | compare FILE REPORT_JSON\n');
  process.exit(2);
}
connection.closeSync();
instance.closeSync();
