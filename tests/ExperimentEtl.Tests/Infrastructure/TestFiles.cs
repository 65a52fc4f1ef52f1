namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>A temporary data folder holding the three input files; deleted on dispose.</summary>
public sealed class TestFiles : IDisposable
{
    public const string SeedUsers = "\nuser_id,\tname,\temail,\tsignup_date\n1,\tAlice,\talice@example.com,\t2023-01-01\n2,\tBob,\tbob@example.com,\t2023-02-01";
    public const string SeedCompounds = "compound_id,\tcompound_name,\tcompound_structure\n1,\tCompound A,\tC20H25N3O\n2,\tCompound B,\tC21H30O2";
    public const string SeedExperiments = "experiment_id,\tuser_id,\texperiment_compound_ids,\texperiment_run_time\n1,\t1,\t1;2,\t10\n2,\t1,\t2,\t15\n3,\t2,\t1,\t20";

    public string Directory { get; } = System.IO.Directory.CreateTempSubdirectory("etl-test-data-").FullName;

    /// <summary>Writes the three files; a null argument leaves that file out.</summary>
    public TestFiles(string? users = SeedUsers, string? compounds = SeedCompounds, string? experiments = SeedExperiments)
    {
        Write("users.csv", users);
        Write("compounds.csv", compounds);
        Write("user_experiments.csv", experiments);
    }

    /// <summary>A copy of the bundled sample (the seed's three files, unchanged).</summary>
    public static TestFiles BundledSample()
    {
        var data = Path.Combine(TestPostgres.RepositoryRoot(), "data");
        return new TestFiles(
            File.ReadAllText(Path.Combine(data, "users.csv")),
            File.ReadAllText(Path.Combine(data, "compounds.csv")),
            File.ReadAllText(Path.Combine(data, "user_experiments.csv")));
    }

    public void Write(string fileName, string? content)
    {
        var path = Path.Combine(Directory, fileName);
        // Delete first: the path may be a named pipe (see Fifo), which writing to would block on.
        File.Delete(path);
        if (content is not null)
        {
            File.WriteAllText(path, content);
        }
    }

    public void WriteBytes(string fileName, byte[] content) => File.WriteAllBytes(Path.Combine(Directory, fileName), content);

    public void Dispose() => System.IO.Directory.Delete(Directory, recursive: true);
}
