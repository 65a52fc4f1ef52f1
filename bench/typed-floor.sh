# Sourced by bench/run.sh: the "typed" target, PostgreSQL's own cost for the service's typed, keyed tables.
# After the first postgres repetition the service's loaded tables (users, compounds, experiments) are dumped once
# as binary COPY files into a folder the server can read; each typed repetition then, in one transaction like the
# load, creates fresh tables with the service's column types (read from the catalog, so they follow the schema),
# loads each file with a server-side COPY ... FROM 'file' (FORMAT binary) and adds the service's primary keys.
# No client, no parsing: what PostgreSQL alone needs to store and key the rows the service stores.
# Needs the throwaway cluster (its server runs as a local user and reads files on this machine) and a postgres
# target before it in BENCH_TARGETS.
# shellcheck shell=bash
# shellcheck disable=SC2154 # work, seconds, pg_dir, pg, die, log, run_psql_floor: bench/run.sh's, which sources this file

typed_tables=(users compounds experiments)
typed_dir=""

# typed_prepare: dumps the service's tables once, into the cluster's folder (the server's user owns it; it goes
# with the cluster).
typed_prepare() {
  [ -z "$typed_dir" ] || return 0
  [ -n "$pg_dir" ] || die "typed: needs the throwaway cluster (unset BENCH_DATABASE_URL)"
  typed_dir=$pg_dir
  local table create_sql=""
  for table in "${typed_tables[@]}"; do
    # A query, not the table: COPY TO takes only plain tables, a query any relation the service may use.
    pg -c "COPY (SELECT * FROM $table) TO '$typed_dir/typed-$table.bin' (FORMAT binary)"
    create_sql+=$(pg -Atc "SELECT format('CREATE TABLE bench_typed_%s (%s);', '$table',
        string_agg(quote_ident(attname) || ' ' || format_type(atttypid, atttypmod) || CASE WHEN attnotnull THEN ' NOT NULL' ELSE '' END,
                   ', ' ORDER BY attnum))
      FROM pg_attribute WHERE attrelid = '$table'::regclass AND attnum > 0 AND NOT attisdropped")
    create_sql+=$'\n'
  done
  {
    printf '%s' "$create_sql"
    for table in "${typed_tables[@]}"; do
      echo "COPY bench_typed_$table FROM '$typed_dir/typed-$table.bin' (FORMAT binary);"
    done
    for table in "${typed_tables[@]}"; do
      pg -Atc "SELECT format('ALTER TABLE bench_typed_%s ADD PRIMARY KEY (%s);', '$table',
          string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord))
        FROM pg_index i CROSS JOIN unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
        JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
        WHERE i.indrelid = '$table'::regclass AND i.indisprimary"
    done
  } >"$work/typed.sql"
  typed_rows=$(pg -Atc "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM compounds) + (SELECT count(*) FROM experiments)")
}

typed_drop() { pg -c "DROP TABLE IF EXISTS $(printf 'bench_typed_%s, ' "${typed_tables[@]}" | sed 's/, $//')"; }

run_typed() {
  local rep=$1 rows
  typed_prepare
  typed_drop
  run_psql_floor typed "$rep" "$work/typed.sql"
  rows=$(pg -Atc 'SELECT (SELECT count(*) FROM bench_typed_users) + (SELECT count(*) FROM bench_typed_compounds)
                         + (SELECT count(*) FROM bench_typed_experiments)')
  [ "$rows" -eq "$typed_rows" ] || die "typed: loaded $rows rows, expected $typed_rows"
  typed_drop
  log "typed    rep $rep: ${seconds[typed,$rep]} s"
}
