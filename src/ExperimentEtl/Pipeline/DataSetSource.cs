namespace ExperimentEtl.Pipeline;

/// <summary>Where a run reads its three files from. Only the three known file names are ever opened.</summary>
public sealed class DataSetSource
{
    readonly string _directory;

    DataSetSource(string directory) => _directory = directory;

    public static DataSetSource FromDirectory(string directory) => new(Path.GetFullPath(directory));

    /// <summary>Opens one of the three input files for sequential reading; null when it does not exist.</summary>
    public Stream? Open(string fileName)
    {
        var path = Path.Combine(_directory, fileName);
        if (!File.Exists(path))
        {
            return null;
        }
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
    }
}
