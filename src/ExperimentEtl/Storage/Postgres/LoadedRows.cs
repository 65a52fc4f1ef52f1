using ExperimentEtl.Csv;

namespace ExperimentEtl.Storage.Postgres;

/// <summary>
/// How the loaded tables' rows go into binary COPY, column by column: one place for the PostgreSQL load and the Citus
/// one, which copy the same columns into differently named tables.
/// </summary>
static class LoadedRows
{
    public const string UserColumns = "(user_id, name, email, signup_date)";
    public const string CompoundColumns = "(compound_id, name, structure)";
    public const string ExperimentColumns = "(experiment_id, user_id, compound_ids, run_time)";

    public static void WriteUser(PgBinaryCopyWriter copy, UserRow row)
    {
        copy.WriteInt32(row.UserId);
        copy.WriteText(row.Name);
        copy.WriteText(row.Email);
        copy.WriteDate(row.SignupDate);
    }

    public static void WriteCompound(PgBinaryCopyWriter copy, CompoundRow row)
    {
        copy.WriteInt32(row.CompoundId);
        copy.WriteText(row.Name);
        copy.WriteText(row.Structure);
    }

    public static void WriteExperiment(PgBinaryCopyWriter copy, ExperimentRow row)
    {
        copy.WriteInt32(row.ExperimentId);
        copy.WriteInt32(row.UserId);
        copy.WriteInt32Array(row.CompoundIds);
        copy.WriteInt32(row.RunTime);
    }
}
