namespace ExperimentEtl.Model;

/// <summary>One user's line of the report.</summary>
public sealed record UserReport(int UserId, string Name, string Email, int Count, string? FavCompound, int? FavCompoundId);
