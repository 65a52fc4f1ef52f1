using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// A reload that writes only what changed: each row read is compared, by its fingerprint, with the row of the same id
/// in the comparison state of the data set the database holds, and only rows added or changed reach the database;
/// at the commit the ids never met are removed and only the features that moved are written.
/// </summary>
/// <remarks>
/// The comparison runs on each table's writer thread, beside the parsing. The new comparison state is written on the
/// way, as a full load writes it. When more rows change than <paramref name="changeLimit"/>, the reload stops with
/// <see cref="FullLoadNeededException"/> and the run loads in full instead: past that share a full replace is cheaper.
/// </remarks>
/// <param name="canReadAgain">Whether the files can still be read a second time; if not, a reload past its limit applies the changes anyway.</param>
sealed class ChangesOnlyLoad(IDataSetPatch patch, ComparisonState state, ComparisonState.Writer next, long changeLimit, Func<bool> canReadAgain) : IDataSetLoad
{
    bool _pastLimit;
    // Written by one writer thread at a time (users, then compounds, then experiments), read after they completed.
    readonly HashSet<int> _compoundsMoved = [];
    long _changedRows;

    public IRowWriter<UserRow> OpenUsers() => new ChangedOnlyWriter<UserRow>(patch.OpenUsers(), this, (in UserRow row) =>
    {
        if (state.Users.TryFind(row.UserId, out var fingerprint, out _) && fingerprint == RowFingerprints.StoredUser(row))
        {
            return false;
        }
        return true;
    });

    public IRowWriter<CompoundRow> OpenCompounds() => new ChangedOnlyWriter<CompoundRow>(patch.OpenCompounds(), this, (in CompoundRow row) =>
    {
        var fingerprint = RowFingerprints.Compound(row);
        next.AddCompound(row.CompoundId, fingerprint);
        if (state.Compounds.TryFind(row.CompoundId, out var before, out _) && before == fingerprint)
        {
            return false;
        }
        _compoundsMoved.Add(row.CompoundId);
        return true;
    });

    public IRowWriter<ExperimentRow> OpenExperiments() => new ChangedOnlyWriter<ExperimentRow>(patch.OpenExperiments(), this, (in ExperimentRow row) =>
    {
        var fingerprint = RowFingerprints.StoredExperiment(row);
        next.AddExperiment(row.ExperimentId, fingerprint);
        if (state.Experiments.TryFind(row.ExperimentId, out var before, out _) && before == fingerprint)
        {
            return false;
        }
        return true;
    });

    void Changed()
    {
        if (++_changedRows > changeLimit)
        {
            PastLimit();
        }
    }

    void PastLimit()
    {
        if (!_pastLimit && canReadAgain())
        {
            throw FullLoadNeededException.TooManyChanges(changeLimit);
        }
        _pastLimit = true;
    }

    public RunRecord Commit(DataSetFeatures features, RunRecord run, IReadOnlyList<RejectedRow> rejects, TimeProvider clock, CancellationToken cancellationToken)
    {
        var usersRemoved = state.Users.Unseen();
        var compoundsRemoved = state.Compounds.Unseen();
        var experimentsRemoved = state.Experiments.Unseen();
        _changedRows += usersRemoved.Count + compoundsRemoved.Count + experimentsRemoved.Count;
        if (_changedRows > changeLimit)
        {
            PastLimit();
        }

        // A user's features move with its own row (its fingerprint is kept with them), its experiments, or its
        // favourite's name; its favourite ties only with its experiments.
        var userFeatures = new List<UserFeature>();
        var favoritesRewritten = new HashSet<int>();
        foreach (var user in features.Users)
        {
            var known = state.Users.TryFind(user.UserId, out var row, out var experiments);
            var experimentsMoved = !known || experiments != user.ExperimentsFingerprint;
            if (experimentsMoved || row != RowFingerprints.NonZero(user.RowFingerprint)
                || user.FavoriteCompoundId is { } favorite && _compoundsMoved.Contains(favorite))
            {
                userFeatures.Add(user);
            }
            if (experimentsMoved)
            {
                favoritesRewritten.Add(user.UserId);
            }
        }
        var favorites = favoritesRewritten.Count == 0 ? [] : features.Favorites.Where(f => favoritesRewritten.Contains(f.UserId)).ToList();
        var usage = features.Compounds.Where(c => !state.Usage.TryGetValue(c.CompoundId, out var before) || before != (c.Experiments, c.Users)).ToList();
        var used = features.Compounds.Select(c => c.CompoundId).ToHashSet();
        var usageRemoved = state.Usage.Keys.Where(id => !used.Contains(id)).Order().ToList();

        next.AddFeatures(features);
        var stored = patch.Commit(
            new DataSetPatch(features, usersRemoved, compoundsRemoved, experimentsRemoved, userFeatures, [.. favoritesRewritten.Order()], favorites, usage, usageRemoved),
            run with
            {
                Apply = ApplyKinds.Changes,
                ApplyReason = $"The database held the data set of run {state.Identity.RunId}, which this reload compared the files with row by row."
                    + (_pastLimit ? $" More than {changeLimit:N0} rows changed, but the files could not be read a second time (a pipe), so the changes were applied." : ""),
            },
            rejects, clock, cancellationToken);
        StateRecordingLoad.Publish(next, stored.RunId);
        return stored;
    }

    public void Dispose()
    {
        patch.Dispose();
        next.Dispose();
    }

    delegate bool RowFilter<TRow>(in TRow row);

    /// <summary>Passes on only the rows the filter finds added or changed; runs on the table's writer thread.</summary>
    sealed class ChangedOnlyWriter<TRow>(IRowWriter<TRow> inner, ChangesOnlyLoad load, RowFilter<TRow> changed) : IRowWriter<TRow>
    {
        public void Write(in TRow row)
        {
            if (changed(row))
            {
                load.Changed();
                inner.Write(row);
            }
        }

        public void Complete() => inner.Complete();

        public void Dispose() => inner.Dispose();
    }
}

