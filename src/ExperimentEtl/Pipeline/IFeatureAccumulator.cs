using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>What a run keeps of the users and experiments streaming past: the user ids (to check references) and the features.</summary>
/// <remarks>Dispose it once its features are stored: that deletes whatever it spilled to disk.</remarks>
public interface IFeatureAccumulator : IDisposable
{
    /// <summary>Registers a user; false when the id is already registered.</summary>
    bool AddUser(in UserRow row);

    bool HasUser(int userId);

    /// <summary>Declares that every user is registered and gives the largest compound id.</summary>
    void StartExperiments(int maxCompoundId);

    /// <summary>Counts one experiment of a registered user; its compound ids hold no repeats.</summary>
    void AddExperiment(in ExperimentRow row);

    DataSetFeatures Build(long compoundCount);
}
