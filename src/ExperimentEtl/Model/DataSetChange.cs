namespace ExperimentEtl.Model;

/// <summary>What a successful load changed against the data set it replaced (the previous successful load's).</summary>
/// <param name="PreviousRunId">The run that loaded the replaced data set; null for the first load into an empty database.</param>
/// <param name="FavCompoundChanged">Users present before and after whose favourite compound differs.</param>
/// <param name="CountChanged">Users present before and after whose experiment count differs.</param>
public sealed record DataSetChange(
    Guid RunId,
    Guid? PreviousRunId,
    ChangeCounts Users,
    ChangeCounts Compounds,
    ChangeCounts Experiments,
    long FavCompoundChanged,
    long CountChanged,
    AverageChange AverageExperimentCount);
