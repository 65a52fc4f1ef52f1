using System.Runtime.InteropServices;

namespace ExperimentEtl.Tests.Changes;

/// <param name="Share">About this share of each file's rows is touched by each kind of edit that is drawn (at least one row).</param>
/// <param name="Substantive">Edits that change the data as stored: rows added, removed or changed.</param>
/// <param name="Cosmetic">Edits that must change nothing: rows reordered, ids reordered and repeated in lists, fields padded.</param>
public sealed record EditOptions(double Share = 0.1, bool Substantive = true, bool Cosmetic = true);

/// <summary>
/// Random edits of an export that keep it strict-valid. Each kind of edit is drawn with probability 3/4, so a run
/// mixes some of them: users added, removed (with their experiments), changed, or losing all their experiments;
/// compounds added, changed, or removed after being stripped from the experiments that list them (an experiment left
/// with none gets another); experiments added, removed, moved to another user, with another run time or another set
/// of compounds; and the cosmetic edits of <see cref="EditOptions.Cosmetic"/>. New rows get ids above every id the
/// input had, so an id is never reused for another row.
/// </summary>
public static class ExportEditor
{
    public static ExportData Edit(ExportData data, Random random, EditOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(random);
        options ??= new EditOptions();
        var editing = new Editing(data, random, options.Share);
        if (options.Substantive)
        {
            editing.Substantive();
        }
        if (options.Cosmetic)
        {
            editing.Cosmetic();
        }
        return editing.Result(options.Cosmetic && random.Next(4) != 0 ? random.Next() : data.PaddingSeed);
    }

    sealed class Editing(ExportData data, Random random, double share)
    {
        readonly List<ExportUser> _users = [.. data.Users];
        readonly List<ExportCompound> _compounds = [.. data.Compounds];
        readonly List<ExportExperiment> _experiments = [.. data.Experiments];
        int _nextUser = NextId(data.Users.Select(u => u.Id));
        int _nextCompound = NextId(data.Compounds.Select(c => c.Id));
        int _nextExperiment = NextId(data.Experiments.Select(e => e.Id));

        public ExportData Result(int? paddingSeed) => new()
        {
            Users = [.. _users],
            Compounds = [.. _compounds],
            Experiments = [.. _experiments],
            PaddingSeed = paddingSeed,
        };

        public void Substantive()
        {
            Maybe(RemoveUsers);
            Maybe(EmptyUsers);
            Maybe(RemoveCompounds);
            Maybe(ChangeCompounds);
            Maybe(AddCompounds);
            Maybe(ChangeUsers);
            Maybe(AddUsers);
            Maybe(RemoveExperiments);
            Maybe(ChangeExperiments);
            Maybe(AddExperiments);
        }

        public void Cosmetic()
        {
            Maybe(() => random.Shuffle(CollectionsMarshal.AsSpan(_users)));
            Maybe(() => random.Shuffle(CollectionsMarshal.AsSpan(_compounds)));
            Maybe(() => random.Shuffle(CollectionsMarshal.AsSpan(_experiments)));
            Maybe(RewriteLists);
        }

        void Maybe(Action edit)
        {
            if (random.Next(4) != 0)
            {
                edit();
            }
        }

        void RemoveUsers()
        {
            var removed = Sample(_users, Count(_users.Count), keep: 1).Select(u => u.Id).ToHashSet();
            _users.RemoveAll(u => removed.Contains(u.Id));
            _experiments.RemoveAll(e => removed.Contains(e.UserId));
        }

        void EmptyUsers()
        {
            var active = _experiments.Select(e => e.UserId).Distinct().ToList();
            var emptied = Sample(active, Count(active.Count)).ToHashSet();
            _experiments.RemoveAll(e => emptied.Contains(e.UserId));
        }

        void ChangeUsers()
        {
            foreach (var i in SampleIndices(_users.Count, Count(_users.Count)))
            {
                var user = _users[i];
                var fields = 1 + random.Next(7); // a non-empty subset of name, email, sign-up date
                _users[i] = user with
                {
                    Name = (fields & 1) != 0 ? user.Name + " " + (char)('A' + random.Next(26)) + "." : user.Name,
                    Email = (fields & 2) != 0 ? (user.Email.Length == 0 ? $"user{user.Id}@example.org" : random.Next(3) == 0 ? "" : "new." + user.Email) : user.Email,
                    SignupDate = (fields & 4) != 0 ? user.SignupDate.AddDays(1 + random.Next(365)) : user.SignupDate,
                };
            }
        }

        void AddUsers()
        {
            for (var n = Count(_users.Count); n > 0; n--)
            {
                _users.Insert(random.Next(_users.Count + 1), ExportData.RandomUser(random, _nextUser++));
            }
        }

        void RemoveCompounds()
        {
            var removed = Sample(_compounds, Count(_compounds.Count), keep: 1).Select(c => c.Id).ToHashSet();
            _compounds.RemoveAll(c => removed.Contains(c.Id));
            for (var i = 0; i < _experiments.Count; i++)
            {
                var experiment = _experiments[i];
                if (experiment.CompoundIds.Any(removed.Contains))
                {
                    var left = experiment.CompoundIds.Where(id => !removed.Contains(id)).ToList();
                    _experiments[i] = experiment with { CompoundIds = left.Count > 0 ? left : [AnyCompound()] };
                }
            }
        }

        void ChangeCompounds()
        {
            foreach (var i in SampleIndices(_compounds.Count, Count(_compounds.Count)))
            {
                var compound = _compounds[i];
                var fields = 1 + random.Next(3);
                _compounds[i] = compound with
                {
                    Name = (fields & 1) != 0 ? compound.Name + "'" : compound.Name,
                    Structure = (fields & 2) != 0 ? compound.Structure + "Cl" : compound.Structure,
                };
            }
        }

        void AddCompounds()
        {
            for (var n = Count(_compounds.Count); n > 0; n--)
            {
                _compounds.Insert(random.Next(_compounds.Count + 1), ExportData.RandomCompound(random, _nextCompound++));
            }
        }

        void RemoveExperiments()
        {
            var removed = SampleIndices(_experiments.Count, Count(_experiments.Count)).Select(i => _experiments[i].Id).ToHashSet();
            _experiments.RemoveAll(e => removed.Contains(e.Id));
        }

        void ChangeExperiments()
        {
            foreach (var i in SampleIndices(_experiments.Count, Count(_experiments.Count)))
            {
                var experiment = _experiments[i];
                _experiments[i] = random.Next(3) switch
                {
                    0 when _users.Count > 1 => experiment with { UserId = Sample(_users.Where(u => u.Id != experiment.UserId).ToList(), 1)[0].Id },
                    1 when OtherCompounds(experiment.CompoundIds) is { } other => experiment with { CompoundIds = other },
                    _ => experiment with { RunTime = experiment.RunTime + 1 + random.Next(100) },
                };
            }
        }

        /// <summary>Another set: one compound added, one removed or one replaced; null when there is no other set to make.</summary>
        List<int>? OtherCompounds(IReadOnlyList<int> ids)
        {
            var set = ids.Distinct().ToList();
            var unused = _compounds.Select(c => c.Id).Where(id => !set.Contains(id)).ToList();
            var choice = random.Next(3);
            if (choice == 0 && set.Count > 1)
            {
                set.RemoveAt(random.Next(set.Count));
                return set;
            }
            if (unused.Count == 0)
            {
                return set.Count > 1 ? set.GetRange(1, set.Count - 1) : null;
            }
            var added = unused[random.Next(unused.Count)];
            if (choice == 1)
            {
                set[random.Next(set.Count)] = added;
            }
            else
            {
                set.Add(added);
            }
            return set;
        }

        void AddExperiments()
        {
            if (_users.Count == 0 || _compounds.Count == 0)
            {
                return;
            }
            for (var n = Count(_experiments.Count); n > 0; n--)
            {
                var compounds = Sample(_compounds, 1 + random.Next(Math.Min(3, _compounds.Count))).Select(c => c.Id).ToList();
                var experiment = new ExportExperiment(_nextExperiment++, Sample(_users, 1)[0].Id, compounds, ExportData.RandomRunTime(random));
                _experiments.Insert(random.Next(_experiments.Count + 1), experiment);
            }
        }

        /// <summary>Lists written in another order, some ids repeated (<c>2;1;1</c> for <c>1;2</c>): the same set.</summary>
        void RewriteLists()
        {
            foreach (var i in SampleIndices(_experiments.Count, Count(_experiments.Count)))
            {
                var ids = _experiments[i].CompoundIds.ToList();
                random.Shuffle(CollectionsMarshal.AsSpan(ids));
                for (var repeats = random.Next(3); repeats > 0; repeats--)
                {
                    ids.Insert(random.Next(ids.Count + 1), ids[random.Next(ids.Count)]);
                }
                _experiments[i] = _experiments[i] with { CompoundIds = ids };
            }
        }

        int AnyCompound() => _compounds[random.Next(_compounds.Count)].Id;

        int Count(int rows) => rows == 0 || share <= 0 ? 0 : Math.Min(rows, Math.Max(1, (int)Math.Round(share * rows)));

        /// <summary>Up to <paramref name="count"/> distinct items, always leaving at least <paramref name="keep"/> unpicked.</summary>
        List<T> Sample<T>(IReadOnlyList<T> items, int count, int keep = 0) =>
            [.. SampleIndices(items.Count, Math.Min(count, items.Count - keep)).Select(i => items[i])];

        /// <summary>Distinct indices below <paramref name="n"/> (a partial Fisher–Yates shuffle).</summary>
        int[] SampleIndices(int n, int count)
        {
            var indices = Enumerable.Range(0, n).ToArray();
            count = Math.Max(0, Math.Min(count, n));
            for (var i = 0; i < count; i++)
            {
                var j = i + random.Next(n - i);
                (indices[i], indices[j]) = (indices[j], indices[i]);
            }
            return indices[..count];
        }

        static int NextId(IEnumerable<int> ids) => ids.DefaultIfEmpty(0).Max() + 1;
    }
}
