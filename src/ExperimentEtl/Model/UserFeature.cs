namespace ExperimentEtl.Model;

/// <summary>The derived features of one user.</summary>
/// <param name="FavoriteCompoundId">The compound used in most of the user's experiments (ties: the lowest id); null without experiments.</param>
/// <param name="RowFingerprint">A 64-bit hash of the user's own fields, for the next load's change.</param>
/// <param name="ExperimentsFingerprint">The sum of the 64-bit hashes of the user's experiments, for the next load's change.</param>
public readonly record struct UserFeature(int UserId, int ExperimentCount, int? FavoriteCompoundId, long RowFingerprint = 0, long ExperimentsFingerprint = 0);
