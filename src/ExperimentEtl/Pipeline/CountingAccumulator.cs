using ExperimentEtl.Csv;
using ExperimentEtl.Model;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// For a store that derives the features from the loaded rows itself (<see cref="Storage.IDataSetLoad.DerivesFeatures"/>):
/// keeps the user ids (a bitmap) and the counts only, so the process's memory does not grow with users or experiments.
/// What it builds has the counts and no per-user or per-compound rows; active users are left to the store.
/// </summary>
public sealed class CountingAccumulator : IFeatureAccumulator
{
    readonly IdSet _users = new();
    long _experiments;

    public bool AddUser(in UserRow row) => _users.Add(row.UserId);

    public bool HasUser(int userId) => _users.Contains(userId);

    public void StartExperiments(int maxCompoundId)
    {
    }

    public void AddExperiment(in ExperimentRow row) => _experiments++;

    public DataSetFeatures Build(long compoundCount) => new(_users.Count, compoundCount, _experiments, 0, [], [], []);

    public void Dispose()
    {
    }
}
