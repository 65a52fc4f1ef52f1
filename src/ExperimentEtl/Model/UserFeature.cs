namespace ExperimentEtl.Model;

/// <summary>The derived features of one user.</summary>
/// <param name="FavoriteCompoundId">The compound used in most of the user's experiments (ties: the lowest id); null without experiments.</param>
public readonly record struct UserFeature(int UserId, int ExperimentCount, int? FavoriteCompoundId);
