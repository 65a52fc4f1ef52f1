using System.Buffers.Binary;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// The fingerprints of every row of the data set a load committed, with that data set's run id and row counts: what
/// the next reload compares the files with, row by row as they stream, to write only what changed.
/// </summary>
/// <remarks>
/// <para>
/// Kept in a local file, not in the database: reading 11M fingerprints back from PostgreSQL would cost a large share of
/// the reload it is meant to spare. The file is trusted only while the database's data set record names the same run
/// and the same counts; anything else (the file lost, an older file, another database, a restore, rows deleted or
/// added by hand) makes the next run a full load.
/// </para>
/// <para>
/// Layout, little-endian: a header (magic, run id, the four counts, the id spans), then compounds (id, fingerprint), experiments
/// (id, fingerprint), users (id, fingerprint of the row, fingerprint of the user's experiments) and the compounds'
/// usage (id, users, experiments). Written while the load streams, finished after its commit, and moved into place
/// in one rename: a reader meets the old file or the new one whole.
/// </para>
/// </remarks>
sealed class ComparisonState
{
    const ulong Magic = 0x3230_5453_434C_5445; // "ETLCST02", little-endian
    // Magic, run id, the four counts, then each id span (min, max) of compounds, experiments and users.
    const int HeaderBytes = 8 + 16 + 4 * 8 + 6 * 4;
    const int PairBytes = 12;
    const int UserBytes = 20;
    const int UsageBytes = 16;

    public required DataSetIdentity Identity { get; init; }

    public required FingerprintIndex Users { get; init; }

    public required FingerprintIndex Compounds { get; init; }

    public required FingerprintIndex Experiments { get; init; }

    /// <summary>Each used compound's (experiments, users).</summary>
    public required Dictionary<int, (long Experiments, int Users)> Usage { get; init; }

    /// <summary>The run id and counts a state file was written for, or null when there is no whole file.</summary>
    public static DataSetIdentity? ReadIdentity(string path) => ReadHeader(path) is { } header ? header.Identity : null;

    /// <summary>The memory <see cref="Read"/> would take for the file at <paramref name="path"/>, or null when there is no whole file.</summary>
    public static long? MemoryFor(string path) => ReadHeader(path) is { } header
        ? FingerprintIndex.BytesFor(header.Compounds, header.CompoundIds.Min, header.CompoundIds.Max, false)
          + FingerprintIndex.BytesFor(header.Experiments, header.ExperimentIds.Min, header.ExperimentIds.Max, false)
          + FingerprintIndex.BytesFor(header.Users, header.UserIds.Min, header.UserIds.Max, true)
          + header.Usage * 40
        : null;

    /// <summary>Reads a state file whole; null when there is none or it is not whole.</summary>
    public static ComparisonState? Read(string path)
    {
        if (ReadHeader(path) is not { } header)
        {
            return null;
        }
        using var file = OpenRead(path);
        long offset = HeaderBytes;
        FingerprintIndex Index(long count, (int Min, int Max) ids, int width, bool second)
        {
            var start = offset;
            offset += count * width;
            return new FingerprintIndex((int)count, ids.Min, ids.Max, second, () => Rows(file, start, count, width, second));
        }
        var compounds = Index(header.Compounds, header.CompoundIds, PairBytes, false);
        var experiments = Index(header.Experiments, header.ExperimentIds, PairBytes, false);
        var users = Index(header.Users, header.UserIds, UserBytes, true);
        var usage = new Dictionary<int, (long, int)>((int)header.Usage);
        foreach (var (id, experimentsUsing, usersUsing) in Rows(file, offset, header.Usage, UsageBytes, true))
        {
            usage[id] = (experimentsUsing, (int)usersUsing);
        }
        return new ComparisonState { Identity = header.Identity, Users = users, Compounds = compounds, Experiments = experiments, Usage = usage };
    }

    sealed record Header(DataSetIdentity Identity, long Compounds, long Experiments, long Users, long Usage,
        (int Min, int Max) CompoundIds, (int Min, int Max) ExperimentIds, (int Min, int Max) UserIds);

    static Header? ReadHeader(string path)
    {
        try
        {
            using var file = OpenRead(path);
            var bytes = new byte[HeaderBytes];
            if (file.Length < HeaderBytes || file.Read(bytes) != HeaderBytes || BinaryPrimitives.ReadUInt64LittleEndian(bytes.AsSpan()) != Magic)
            {
                return null;
            }
            var runId = new Guid(bytes.AsSpan(8, 16));
            var compounds = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(24));
            var experiments = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(32));
            var users = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(40));
            var usage = BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(48));
            if (compounds is < 0 or > int.MaxValue || experiments is < 0 or > int.MaxValue || users is < 0 or > int.MaxValue || usage is < 0 or > int.MaxValue
                || file.Length != HeaderBytes + (compounds + experiments) * PairBytes + users * UserBytes + usage * UsageBytes)
            {
                return null;
            }
            (int, int) Ids(int at) => (BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at)), BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 4)));
            return new Header(new DataSetIdentity(runId, users, compounds, experiments), compounds, experiments, users, usage, Ids(56), Ids(64), Ids(72));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    static FileStream OpenRead(string path) => new(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16, FileOptions.SequentialScan);

    /// <summary>Rows of fixed width: an id, then one 64-bit value (pairs), or two (users), or 64-bit then 32-bit (usage).</summary>
    static IEnumerable<(int Id, long Value, long Second)> Rows(FileStream file, long start, long count, int width, bool second)
    {
        file.Position = start;
        var buffer = new byte[width * 8192];
        var left = count;
        while (left > 0)
        {
            var rows = (int)Math.Min(left, 8192);
            file.ReadExactly(buffer, 0, rows * width);
            for (var i = 0; i < rows; i++)
            {
                var row = buffer.AsSpan(i * width, width);
                var id = BinaryPrimitives.ReadInt32LittleEndian(row);
                var value = BinaryPrimitives.ReadInt64LittleEndian(row[4..]);
                long other = !second ? 0 : width == UserBytes ? BinaryPrimitives.ReadInt64LittleEndian(row[12..]) : BinaryPrimitives.ReadInt32LittleEndian(row[12..]);
                yield return (id, value, other);
            }
            left -= rows;
        }
    }

    /// <summary>Writes a new state file beside <paramref name="path"/>, moved into place by <see cref="Writer.Publish"/>.</summary>
    public static Writer Create(string path) => new(path);

    /// <summary>
    /// A state file being written by a load: compounds and experiments as they stream (each table by one writer
    /// thread, one after the other), the users and usage from the features, then the header once the load committed.
    /// </summary>
    public sealed class Writer : IDisposable
    {
        readonly string _path;
        readonly string _temporary;
        readonly FileStream _file;
        readonly byte[] _row = new byte[UserBytes];
        long _compounds, _experiments, _users, _usage;
        (int Min, int Max) _compoundIds = Empty, _experimentIds = Empty, _userIds = Empty;

        static readonly (int, int) Empty = (int.MaxValue, int.MinValue);

        static (int, int) Widen((int Min, int Max) span, int id) => (Math.Min(span.Min, id), Math.Max(span.Max, id));
        bool _published;

        internal Writer(string path)
        {
            _path = path;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            _temporary = $"{path}.{Guid.NewGuid():N}.tmp";
            _file = new FileStream(_temporary, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None, 1 << 20);
            _file.Write(new byte[HeaderBytes]);
        }

        public void AddCompound(int id, long fingerprint)
        {
            WritePair(id, fingerprint);
            _compounds++;
            _compoundIds = Widen(_compoundIds, id);
        }

        public void AddExperiment(int id, long fingerprint)
        {
            WritePair(id, fingerprint);
            _experiments++;
            _experimentIds = Widen(_experimentIds, id);
        }

        void WritePair(int id, long fingerprint)
        {
            BinaryPrimitives.WriteInt32LittleEndian(_row, id);
            BinaryPrimitives.WriteInt64LittleEndian(_row.AsSpan(4), fingerprint);
            _file.Write(_row, 0, PairBytes);
        }

        /// <summary>Adds the users' fingerprints and the compounds' usage, from the features of the whole new data set.</summary>
        public void AddFeatures(DataSetFeatures features)
        {
            foreach (var user in features.Users)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_row, user.UserId);
                BinaryPrimitives.WriteInt64LittleEndian(_row.AsSpan(4), RowFingerprints.NonZero(user.RowFingerprint));
                BinaryPrimitives.WriteInt64LittleEndian(_row.AsSpan(12), user.ExperimentsFingerprint);
                _file.Write(_row, 0, UserBytes);
                _users++;
                _userIds = Widen(_userIds, user.UserId);
            }
            foreach (var compound in features.Compounds)
            {
                BinaryPrimitives.WriteInt32LittleEndian(_row, compound.CompoundId);
                BinaryPrimitives.WriteInt64LittleEndian(_row.AsSpan(4), compound.Experiments);
                BinaryPrimitives.WriteInt32LittleEndian(_row.AsSpan(12), compound.Users);
                _file.Write(_row, 0, UsageBytes);
                _usage++;
            }
        }

        /// <summary>Writes the header for the committed run and moves the file into place; best effort (a failure means the next run loads in full).</summary>
        public void Publish(Guid runId)
        {
            Span<byte> header = stackalloc byte[HeaderBytes];
            BinaryPrimitives.WriteUInt64LittleEndian(header, Magic);
            runId.TryWriteBytes(header.Slice(8, 16));
            BinaryPrimitives.WriteInt64LittleEndian(header[24..], _compounds);
            BinaryPrimitives.WriteInt64LittleEndian(header[32..], _experiments);
            BinaryPrimitives.WriteInt64LittleEndian(header[40..], _users);
            BinaryPrimitives.WriteInt64LittleEndian(header[48..], _usage);
            var at = 56;
            foreach (var (min, max) in new[] { _compoundIds, _experimentIds, _userIds })
            {
                BinaryPrimitives.WriteInt32LittleEndian(header[at..], min);
                BinaryPrimitives.WriteInt32LittleEndian(header[(at + 4)..], max);
                at += 8;
            }
            _file.Position = 0;
            _file.Write(header);
            _file.Dispose();
            File.Move(_temporary, _path, overwrite: true);
            _published = true;
        }

        public void Dispose()
        {
            _file.Dispose();
            if (!_published)
            {
                File.Delete(_temporary);
            }
        }
    }
}
