# Sourced by bench/run.sh and bench/changes.sh: the raw floor, psql's \copy of the three files as they are.
# shellcheck shell=bash

# copy_floor_sql DATA_DIR: the floor's statements, for one `psql -1` session: three new one-column text tables (the
# caller drops bench_raw_* before, untimed), each file \copy'd into its table line by line (FORMAT text with a
# delimiter no file holds: no parsing of fields).
copy_floor_sql() {
  cat <<SQL
CREATE TABLE bench_raw_users (line text);
CREATE TABLE bench_raw_compounds (line text);
CREATE TABLE bench_raw_experiments (line text);
\\copy bench_raw_users FROM '$1/users.csv' WITH (FORMAT text, DELIMITER E'\\x01')
\\copy bench_raw_compounds FROM '$1/compounds.csv' WITH (FORMAT text, DELIMITER E'\\x01')
\\copy bench_raw_experiments FROM '$1/user_experiments.csv' WITH (FORMAT text, DELIMITER E'\\x01')
SQL
}
