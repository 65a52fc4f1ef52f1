using ExperimentEtl.Csv;
using ExperimentEtl.Pipeline;
using Npgsql;

namespace ExperimentEtl.Storage.Postgres;

public sealed partial class PostgresEtlStore
{
    /// <summary>
    /// The experiments of a load: <c>experiments_next</c>, a table partitioned by the hash of <c>experiment_id</c>, whose
    /// halves are copied and keyed by two connections at once and committed as staging; the load's own commit adds
    /// the parent's key (which adopts the halves' keys) and swaps the table in.
    /// </summary>
    /// <remarks>
    /// One COPY stream is one PostgreSQL backend, one core: at 10M experiments it stored the rows in 7.6–9.5 s, then
    /// built the key in 3.6–5.4 s, while the second core mostly waited. Two streams store both halves at once and
    /// each half's key is built as soon as that half is in. Rows are routed here with PostgreSQL's own hash
    /// partitioning function (<see cref="HalfOf"/>), so each connection copies straight into its partition.
    /// The parent and its two empty partitions are committed first (the two connections must see them); each
    /// connection then truncates its partition in its own transaction (so that COPY FREEZE applies), copies, keys and
    /// commits. Nothing reads <c>experiments_next</c>; the next load drops whatever a failed one left.
    /// </remarks>
    sealed class ExperimentHalves : IDisposable
    {
        internal const int Count = 2;
        internal const string Table = "experiments";
        internal const string Columns =
            "experiment_id integer NOT NULL, user_id integer NOT NULL, compound_ids integer[] NOT NULL, run_time integer NOT NULL";

        readonly Half[] _halves = new Half[Count];

        /// <summary>Opens the halves' connections and creates the empty staging tables; the caller holds the load lock.</summary>
        public ExperimentHalves(NpgsqlDataSource dataSource)
        {
            try
            {
                for (var i = 0; i < Count; i++)
                {
                    _halves[i] = new Half(dataSource.OpenConnection(), i);
                }
                using (var create = new NpgsqlCommand(CreateStaging, _halves[0].Connection) { CommandTimeout = 0 })
                {
                    create.ExecuteNonQuery();
                }
                foreach (var half in _halves)
                {
                    half.Begin();
                }
            }
            catch
            {
                Dispose();
                throw;
            }
        }

        static string Partition(int i) => $"{Table}_next_p{i}";

        static readonly string CreateStaging = $"DROP TABLE IF EXISTS {Table}_next; CREATE TABLE {Table}_next ({Columns}) PARTITION BY HASH (experiment_id);" +
            string.Concat(Enumerable.Range(0, Count).Select(i =>
                $"CREATE TABLE {Partition(i)} PARTITION OF {Table}_next FOR VALUES WITH (MODULUS {Count}, REMAINDER {i});"));

        /// <summary>The load's commit: the parent's key (adopting the halves'), then the same renames as the other tables.</summary>
        internal static readonly string AddKey = $"ALTER TABLE {Table}_next ADD CONSTRAINT {Table}_next_pkey PRIMARY KEY (experiment_id);";

        /// <summary>After the parent is renamed: the partitions and their keys take the live names (the old ones were dropped with the old table).</summary>
        internal static readonly string RenamePartitions = string.Concat(Enumerable.Range(0, Count).Select(i =>
            $"ALTER TABLE {Partition(i)} RENAME TO {Table}_p{i}; ALTER INDEX {Partition(i)}_pkey RENAME TO {Table}_p{i}_pkey;"));


        /// <summary>Rows go to the half PostgreSQL's hash partitioning puts them in.</summary>
        public IRowWriter<ExperimentRow> OpenWriter() => new Router(_halves.Select(h => h.OpenWriter()).ToArray());

        /// <summary>Waits until both halves are keyed and committed; a cancellation stops their key builds.</summary>
        public void WaitCommitted(CancellationToken cancellationToken)
        {
            using var stop = cancellationToken.Register(() =>
            {
                foreach (var half in _halves)
                {
                    half.CancelKey();
                }
            });
            var tasks = _halves.Select(h => h.Keyed ?? throw new InvalidOperationException("Commit before the experiments were completed.")).ToArray();
            // Both end before either's failure is reported (as it was thrown, not wrapped).
            Task.WaitAny([Task.WhenAll(tasks)], CancellationToken.None);
            foreach (var task in tasks)
            {
                task.GetAwaiter().GetResult();
            }
        }

        public void Dispose()
        {
            foreach (var half in _halves)
            {
                half?.Dispose();
            }
        }

        /// <summary>
        /// PostgreSQL's partition for an int4 key under <c>PARTITION BY HASH</c>: <c>hashint4extended</c> (Jenkins'
        /// lookup3 of the value, seeded with HASH_PARTITION_SEED) combined into a row hash, modulo the partitions
        /// (src/backend/partitioning/partbounds.c, src/common/hashfn.c).
        /// </summary>
        internal static int HalfOf(int key)
        {
            const ulong seed = 0x7A5B22367996DCFD;
            uint a, b, c;
            a = b = c = 0x9e3779b9u + sizeof(uint) + 3923095u;
            a += (uint)(seed >> 32);
            b += unchecked((uint)seed);
            Mix(ref a, ref b, ref c);
            a += (uint)key;
            Final(ref a, ref b, ref c);
            var hash = ((ulong)b << 32) | c;
            // hash_combine64(0, hash)
            var rowHash = hash + 0x49a0f4dd15e5a8e3UL;
            return (int)(rowHash % Count);
        }

        static void Mix(ref uint a, ref uint b, ref uint c)
        {
            a -= c; a ^= uint.RotateLeft(c, 4); c += b;
            b -= a; b ^= uint.RotateLeft(a, 6); a += c;
            c -= b; c ^= uint.RotateLeft(b, 8); b += a;
            a -= c; a ^= uint.RotateLeft(c, 16); c += b;
            b -= a; b ^= uint.RotateLeft(a, 19); a += c;
            c -= b; c ^= uint.RotateLeft(b, 4); b += a;
        }

        static void Final(ref uint a, ref uint b, ref uint c)
        {
            c ^= b; c -= uint.RotateLeft(b, 14);
            a ^= c; a -= uint.RotateLeft(c, 11);
            b ^= a; b -= uint.RotateLeft(a, 25);
            c ^= b; c -= uint.RotateLeft(b, 16);
            a ^= c; a -= uint.RotateLeft(c, 4);
            b ^= a; b -= uint.RotateLeft(a, 14);
            c ^= b; c -= uint.RotateLeft(b, 24);
        }

        /// <summary>Hands each row to its half's writer, each on a thread of its own.</summary>
        sealed class Router(BackgroundRowWriter<ExperimentRow>[] halves) : IRowWriter<ExperimentRow>
        {
            public void Write(in ExperimentRow row) => halves[HalfOf(row.ExperimentId)].Write(row);

            public void Complete()
            {
                foreach (var half in halves)
                {
                    half.Complete();
                }
            }

            public void Dispose()
            {
                foreach (var half in halves)
                {
                    half.Dispose();
                }
            }
        }

        /// <summary>One partition: its connection and transaction, its COPY, then its key and commit in the background.</summary>
        sealed class Half(NpgsqlConnection connection, int index) : IDisposable
        {
            NpgsqlTransaction? _transaction;
            NpgsqlCommand? _keyCommand;

            public NpgsqlConnection Connection => connection;

            public Task? Keyed { get; private set; }

            public void Begin()
            {
                _transaction = connection.BeginTransaction();
                WatchForDeadClient(connection, _transaction);
                // Truncated in this transaction, so that the rows can be copied frozen.
                Execute(connection, _transaction, $"TRUNCATE {Partition(index)}");
            }

            // The rows are already the writer's own (the pipeline copied them for its writer thread).
            public BackgroundRowWriter<ExperimentRow> OpenWriter() => new BackgroundRowWriter<ExperimentRow>(
                new CopyWriter<ExperimentRow>(connection,
                    $"COPY {Partition(index)} {LoadedRows.ExperimentColumns} FROM STDIN (FORMAT BINARY, FREEZE)", 4, LoadedRows.WriteExperiment, StartKey),
                static row => row);

            void StartKey()
            {
                _keyCommand = new NpgsqlCommand(
                    $"ALTER TABLE {Partition(index)} ADD CONSTRAINT {Partition(index)}_pkey PRIMARY KEY (experiment_id)", connection, _transaction) { CommandTimeout = 0 };
                var command = _keyCommand;
                var transaction = _transaction!;
                var span = Telemetry.EtlTelemetry.StartBackgroundSpan("etl.experiments_key");
                Keyed = Task.Run(() =>
                {
                    try
                    {
                        command.ExecuteNonQuery();
                        transaction.Commit();
                    }
                    finally
                    {
                        Telemetry.EtlTelemetry.EndBackgroundSpan(span);
                    }
                });
            }

            public void CancelKey()
            {
                if (Keyed is { IsCompleted: false })
                {
                    _keyCommand?.Cancel();
                }
            }

            public void Dispose()
            {
                if (Keyed is { IsCompleted: false } keyed)
                {
                    _keyCommand!.Cancel(); // Abandoned while the key was being built: no need to finish it.
                    Task.WaitAny(keyed);
                }
                _ = Keyed?.Exception; // Observed: the load's commit reports failures.
                _keyCommand?.Dispose();
                _transaction?.Dispose();
                connection.Dispose();
            }
        }
    }
}
