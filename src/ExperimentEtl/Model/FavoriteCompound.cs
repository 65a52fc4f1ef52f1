namespace ExperimentEtl.Model;

/// <summary>A compound tied for a user's favourite, with the number of the user's experiments that used it.</summary>
public readonly record struct FavoriteCompound(int UserId, int CompoundId, int Experiments);
