namespace ExperimentEtl.Model;

/// <summary>Where a run's files came from.</summary>
public static class RunSource
{
    public const string DataFolder = "data_folder";
    public const string Upload = "upload";
}
