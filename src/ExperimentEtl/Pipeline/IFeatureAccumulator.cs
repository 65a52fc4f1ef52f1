using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>What a run keeps of the users and experiments streaming past: the user ids (to check references) and the features.</summary>
/// <remarks>Dispose it once its features are stored: that deletes whatever it spilled to disk.</remarks>
public interface IFeatureAccumulator : IDisposable
{
    /// <summary>Registers a user; false when the id is already registered.</summary>
    bool AddUser(int userId);

    bool HasUser(int userId);

    /// <summary>Declares that every user is registered and gives the largest compound id.</summary>
    void StartExperiments(int maxCompoundId);

    /// <summary>Counts one experiment of a registered user; <paramref name="distinctCompoundIds"/> holds no repeats.</summary>
    void AddExperiment(int userId, ReadOnlySpan<int> distinctCompoundIds);

    DataSetFeatures Build(long compoundCount);
}
