namespace ExperimentEtl.Csv;

/// <summary>A valid row of users.csv.</summary>
public readonly record struct UserRow(int UserId, string Name, string Email, DateOnly SignupDate);

/// <summary>A valid row of compounds.csv.</summary>
public readonly record struct CompoundRow(int CompoundId, string Name, string Structure);

/// <summary>A valid row of user_experiments.csv.</summary>
/// <param name="CompoundIds">
/// The distinct compound ids in the order listed. The array is reused by the reader: it is valid until the next row is read.
/// </param>
public readonly record struct ExperimentRow(int ExperimentId, int UserId, int[] CompoundIds, int RunTime);
