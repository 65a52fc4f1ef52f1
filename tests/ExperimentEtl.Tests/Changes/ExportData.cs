using System.Globalization;

namespace ExperimentEtl.Tests.Changes;

/// <summary>A row of users.csv as stored: trimmed and parsed.</summary>
public sealed record ExportUser(int Id, string Name, string Email, DateOnly SignupDate);

/// <summary>A row of compounds.csv as stored.</summary>
public sealed record ExportCompound(int Id, string Name, string Structure);

/// <summary>
/// A row of user_experiments.csv. <see cref="CompoundIds"/> is the list as written, in its order and with any repeats
/// (<c>2;1;1</c>): the stored value is its set of distinct ids.
/// </summary>
public sealed record ExportExperiment(int Id, int UserId, IReadOnlyList<int> CompoundIds, int RunTime);

/// <summary>
/// An export (the three files) held in memory, independent of the product's code. The lists are in file order;
/// <see cref="PaddingSeed"/> adds spaces and tabs around the written fields. Row order, list order, repeated ids and
/// padding are the written form only: none of them changes the data as stored.
/// </summary>
public sealed class ExportData
{
    public IReadOnlyList<ExportUser> Users { get; init; } = [];
    public IReadOnlyList<ExportCompound> Compounds { get; init; } = [];
    public IReadOnlyList<ExportExperiment> Experiments { get; init; } = [];

    /// <summary>When set, <see cref="WriteTo"/> pads fields (and the ids in a list) with spaces and tabs drawn from this seed.</summary>
    public int? PaddingSeed { get; init; }

    /// <summary>Reads users.csv, compounds.csv and user_experiments.csv from a folder; throws <see cref="FormatException"/> on an invalid field.</summary>
    public static ExportData Parse(string folder) => ExportCsv.Read(folder);

    /// <summary>Writes the three files in the seed's dialect (a comma then a tab between fields), replacing any there.</summary>
    public void WriteTo(string folder) => ExportCsv.Write(this, folder);

    /// <summary>
    /// A strict-valid data set: ids 1..n, each experiment with 1–4 distinct compounds and an existing user; some users
    /// without experiments, some empty emails and structures.
    /// </summary>
    public static ExportData Random(Random random, int users, int compounds, int experiments)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (experiments > 0 && (users < 1 || compounds < 1))
        {
            throw new ArgumentException("experiments need at least one user and one compound");
        }
        return new ExportData
        {
            Users = [.. Enumerable.Range(1, users).Select(id => RandomUser(random, id))],
            Compounds = [.. Enumerable.Range(1, compounds).Select(id => RandomCompound(random, id))],
            Experiments = [.. Enumerable.Range(1, experiments).Select(id =>
                new ExportExperiment(id, 1 + random.Next(users), RandomCompoundIds(random, compounds), RandomRunTime(random)))],
        };
    }

    internal static ExportUser RandomUser(Random random, int id)
    {
        var name = FirstNames[random.Next(FirstNames.Length)] + " " + LastNames[random.Next(LastNames.Length)];
        var email = random.Next(10) == 0 ? "" : $"{name.Replace(' ', '.').ToLowerInvariant()}{id}@example.com";
        return new ExportUser(id, name, email, new DateOnly(2015, 1, 1).AddDays(random.Next(3650)));
    }

    internal static ExportCompound RandomCompound(Random random, int id) =>
        new(id, $"Compound {id}-{random.Next(1000)}", random.Next(10) == 0 ? "" : RandomStructure(random));

    internal static string RandomStructure(Random random) =>
        string.Create(CultureInfo.InvariantCulture, $"C{2 + random.Next(40)}H{2 + random.Next(60)}O{1 + random.Next(6)}");

    internal static int RandomRunTime(Random random) => random.Next(1, 600);

    /// <summary>1–4 distinct ids from 1..compounds, in random order.</summary>
    internal static IReadOnlyList<int> RandomCompoundIds(Random random, int compounds) =>
        [.. Enumerable.Range(0, 1 + random.Next(Math.Min(4, compounds))).Select(_ => 1 + random.Next(compounds)).Distinct()];

    /// <summary>
    /// What a strict run would reject: duplicate ids, an experiment without compounds or with an unknown user or compound,
    /// an empty name, a negative id or run time, a value with spaces around it. Empty when the data set is strict-valid.
    /// </summary>
    public IReadOnlyList<string> StrictErrors()
    {
        var errors = new List<string>();
        Duplicates("user", Users.Select(u => u.Id));
        Duplicates("compound", Compounds.Select(c => c.Id));
        Duplicates("experiment", Experiments.Select(e => e.Id));
        var userIds = Users.Select(u => u.Id).ToHashSet();
        var compoundIds = Compounds.Select(c => c.Id).ToHashSet();
        foreach (var u in Users)
        {
            Check(u.Id >= 0, $"user {u.Id}: negative id");
            Check(u.Name.Length > 0, $"user {u.Id}: empty name");
            Check(IsTrimmed(u.Name) && IsTrimmed(u.Email), $"user {u.Id}: spaces around a value");
        }
        foreach (var c in Compounds)
        {
            Check(c.Id >= 0, $"compound {c.Id}: negative id");
            Check(c.Name.Length > 0, $"compound {c.Id}: empty name");
            Check(IsTrimmed(c.Name) && IsTrimmed(c.Structure), $"compound {c.Id}: spaces around a value");
        }
        foreach (var e in Experiments)
        {
            Check(e.Id >= 0 && e.RunTime >= 0, $"experiment {e.Id}: negative id or run time");
            Check(userIds.Contains(e.UserId), $"experiment {e.Id}: unknown user {e.UserId}");
            Check(e.CompoundIds.Count > 0, $"experiment {e.Id}: no compound");
            foreach (var id in e.CompoundIds.Where(id => !compoundIds.Contains(id)).Distinct())
            {
                errors.Add($"experiment {e.Id}: unknown compound {id}");
            }
        }
        return errors;

        void Check(bool ok, string message)
        {
            if (!ok)
            {
                errors.Add(message);
            }
        }

        void Duplicates(string what, IEnumerable<int> ids) =>
            errors.AddRange(ids.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => $"{what} id {g.Key} appears {g.Count()} times"));

        static bool IsTrimmed(string value) => value.AsSpan().Trim(" \t").Length == value.Length;
    }

    static readonly string[] FirstNames = ["Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy", "Noor", "Wei"];
    static readonly string[] LastNames = ["Smith", "Jones", "Brown", "Garcia", "Lee", "Walker", "Young", "Reyes", "Cruz", "Price"];
}
