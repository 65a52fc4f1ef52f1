using System.IO.Hashing;
using System.Runtime.InteropServices;
using ExperimentEtl.Csv;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// 64-bit fingerprints of rows as they are stored, summed per user and kept with the data set (user_features): the next
/// load's change then compares row by row only the users whose fingerprints moved, and only their experiments, instead
/// of joining every experiment of both data sets.
/// </summary>
/// <remarks>
/// XxHash3 of the stored fields. A user's experiments fingerprint is the wrapping sum of the fingerprints of its
/// experiments, so the order of rows in the file does not matter; an experiment's compound ids enter as a sum of mixed
/// ids, so neither does the order of ids in its list. A change goes unnoticed only when a user's fingerprint stays the
/// same although the rows behind it changed: a chance of about 2^-64 (5.4e-20) per changed user.
/// </remarks>
public static class RowFingerprints
{
    /// <summary>The fingerprint of a user's own fields (name, email, signup date).</summary>
    public static long User(in UserRow row)
    {
        // Chained through the seed: each field is hashed whole, so moving characters from the name to the email changes it.
        var email = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row.Email.AsSpan()), row.SignupDate.DayNumber);
        return (long)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row.Name.AsSpan()), (long)email);
    }

    /// <summary>The fingerprint of an experiment's fields but its user (the user's sum says whose it is).</summary>
    /// <param name="distinctCompoundIds">In any order, without repeats.</param>
    public static long Experiment(int experimentId, int runTime, ReadOnlySpan<int> distinctCompoundIds)
    {
        ulong ids = 0;
        foreach (var id in distinctCompoundIds)
        {
            ids += Mix((uint)id);
        }
        Span<ulong> fields = [(ulong)(uint)experimentId << 32 | (uint)runTime, ids];
        return (long)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(fields));
    }

    /// <summary>The fingerprint of a compound's stored fields (name, structure), never 0.</summary>
    public static long Compound(in CompoundRow row)
    {
        var structure = XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row.Structure.AsSpan()), row.CompoundId);
        return NonZero((long)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row.Name.AsSpan()), (long)structure));
    }

    /// <summary>
    /// The fingerprint of an experiment as stored (its user, run time and compound ids as the load stores them), never 0:
    /// a change-only reload compares it with the one kept for the same experiment id.
    /// </summary>
    public static long StoredExperiment(in ExperimentRow row)
    {
        var seed = (long)((ulong)(uint)row.UserId << 32 | (uint)row.RunTime) ^ ((long)row.ExperimentId * unchecked((long)0x9E3779B97F4A7C15UL));
        return NonZero((long)XxHash3.HashToUInt64(MemoryMarshal.AsBytes(row.CompoundIds.AsSpan()), seed));
    }

    /// <summary>A user's own fields' fingerprint (<see cref="User"/>) as the comparison state keeps it, never 0.</summary>
    public static long StoredUser(in UserRow row) => NonZero(User(row));

    /// <summary>The comparison state takes 0 for "no such row": a fingerprint that is 0 becomes 1 (one more value in 2^64 collides).</summary>
    public static long NonZero(long fingerprint) => fingerprint == 0 ? 1 : fingerprint;

    // SplitMix64's finaliser: a bijection that spreads an id over 64 bits, so that sums of different id sets differ.
    static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9UL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebUL;
        return z ^ (z >> 31);
    }
}
