using System.Text;
using ExperimentEtl.Csv;
using ExperimentEtl.Model;
using ExperimentEtl.Tests.Infrastructure;
using ExperimentEtl.Tests.Pipeline;
using Xunit.Sdk;

namespace ExperimentEtl.Tests.Csv;

/// <summary>
/// Robustness: mutated seed files and random input through the whole pipeline. Every case must end in a commit
/// or in errors with sane places, within a time limit, and never with an exception.
/// Fixed seeds: a failure names its seed and case and shows the files, so it can be replayed.
/// </summary>
public sealed class ReaderFuzzTests
{
    const int CasesPerSeed = 100;
    const int MaxBytes = 4096;
    static readonly TimeSpan CaseTimeout = TimeSpan.FromSeconds(5);
    static readonly CsvSchema[] Schemas = [CsvSchema.Users, CsvSchema.Compounds, CsvSchema.Experiments];

    // Pieces that matter to a CSV reader, plus non-ASCII text (all valid UTF-8 once encoded).
    static readonly string[] Tokens =
    [
        "\"", "\"\"", ",", ",\t", "\t", " ", "\n", "\r\n", "\r", ";", ";;", "-", "0", "7", "2147483648", "99999999999",
        "é", "€", "😀", "\uFEFF", "\0", "user_id", "compound_id", "experiment_id", "name", "signup_date", "2023-02-30", "\n\n",
    ];

    static readonly byte[][] SeedFiles =
        [.. Schemas.Select(s => File.ReadAllBytes(Path.Combine(TestPostgres.RepositoryRoot(), "data", s.FileName)))];

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task Mutated_seed_files_and_random_text_commit_or_report_sane_errors(int seed)
    {
        var random = new Random(seed);
        using var files = new TestFiles();
        var (commits, failures) = (0, 0);
        for (var i = 0; i < CasesPerSeed; i++)
        {
            var contents = new byte[]?[3];
            for (var f = 0; f < 3; f++)
            {
                contents[f] = SeedFiles[f];
            }
            // Change one file, sometimes more; rarely leave a file out.
            var target = random.Next(3);
            for (var f = 0; f < 3; f++)
            {
                if (f != target && random.Next(4) != 0)
                {
                    continue;
                }
                contents[f] = random.Next(40) == 0 ? null : Utf8(random.Next(6) == 0 ? RandomText(random) : MutateText(random, Encoding.UTF8.GetString(SeedFiles[f])));
            }
            var succeeded = await RunCaseAsync(files, contents, $"seed {seed} case {i}");
            (commits, failures) = succeeded ? (commits + 1, failures) : (commits, failures + 1);
        }
        // The mutations must be neither all harmless nor all fatal, or the test checks little.
        Assert.InRange(commits, CasesPerSeed / 20, CasesPerSeed - CasesPerSeed / 20);
    }

    [Theory]
    [InlineData(11)]
    [InlineData(12)]
    [InlineData(13)]
    public async Task Random_bytes_and_byte_level_mutations_commit_or_report_sane_errors(int seed)
    {
        var random = new Random(seed);
        using var files = new TestFiles();
        for (var i = 0; i < CasesPerSeed; i++)
        {
            var contents = SeedFiles.Select(b => (byte[]?)b).ToArray();
            var target = random.Next(3);
            contents[target] = random.Next(3) == 0 ? RandomBytes(random) : MutateBytes(random, SeedFiles[target]);
            await RunCaseAsync(files, contents, $"seed {seed} case {i}");
        }
    }

    /// <summary>Runs one case and checks its outcome; returns whether it committed.</summary>
    static async Task<bool> RunCaseAsync(TestFiles files, byte[]?[] contents, string caseName)
    {
        for (var f = 0; f < 3; f++)
        {
            if (contents[f] is { } bytes)
            {
                files.WriteBytes(Schemas[f].FileName, bytes);
            }
            else
            {
                files.Write(Schemas[f].FileName, null);
            }
        }
        var load = new RecordingLoad();
        RunOutcome outcome;
        try
        {
            outcome = await Task.Run(() => RecordingLoad.Run(files.Directory, load)).WaitAsync(CaseTimeout);
        }
        catch (Exception e)
        {
            throw new XunitException($"{caseName}: {(e is TimeoutException ? "did not finish within " + CaseTimeout : "threw " + e)}\n{Describe(contents)}");
        }
        try
        {
            CheckOutcome(outcome, load, contents);
        }
        catch (XunitException e)
        {
            throw new XunitException($"{caseName}: {e.Message}\n{string.Join("\n", outcome.Errors)}\n{Describe(contents)}");
        }
        return outcome.Succeeded;
    }

    static void CheckOutcome(RunOutcome outcome, RecordingLoad load, byte[]?[] contents)
    {
        if (outcome.Succeeded)
        {
            Assert.Equal(1, load.CommitCount);
            Assert.Empty(outcome.Errors);
            Assert.Equal(0, outcome.Run.ErrorCount);
            CheckCommittedData(load);
            return;
        }
        Assert.Equal(0, load.CommitCount);
        Assert.NotEmpty(outcome.Errors);
        Assert.Equal(Math.Min(outcome.Run.ErrorCount, ErrorCollector.MaxKept), outcome.Errors.Count);
        foreach (var error in outcome.Errors)
        {
            var f = Array.FindIndex(Schemas, s => s.FileName == error.File);
            Assert.True(f >= 0, $"unknown file in {error}");
            var maxLine = contents[f] is { } bytes ? LineCount(bytes) + 1 : 0;
            Assert.True(error.Line >= 0 && error.Line <= maxLine, $"line out of 0..{maxLine} in {error}");
            Assert.False(string.IsNullOrWhiteSpace(error.Message));
            Assert.True(error.Column is null || Schemas[f].Columns.Contains(error.Column), $"unknown column in {error}");
        }
    }

    /// <summary>What was committed is self-consistent: unique ids, resolved references, features matching the rows.</summary>
    static void CheckCommittedData(RecordingLoad load)
    {
        var features = load.Features!;
        var users = load.Users.Select(u => u.UserId).ToHashSet();
        var compounds = load.Compounds.Select(c => c.CompoundId).ToHashSet();
        Assert.Equal(load.Users.Count, users.Count);
        Assert.Equal(load.Compounds.Count, compounds.Count);
        Assert.Equal(load.Experiments.Count, load.Experiments.Select(e => e.ExperimentId).Distinct().Count());
        Assert.All(load.Users, u => Assert.False(string.IsNullOrEmpty(u.Name)));
        Assert.All(load.Experiments, e =>
        {
            Assert.Contains(e.UserId, users);
            Assert.NotEmpty(e.CompoundIds);
            Assert.Equal(e.CompoundIds.Length, e.CompoundIds.Distinct().Count());
            Assert.All(e.CompoundIds, c => Assert.Contains(c, compounds));
        });
        Assert.Equal((load.Users.Count, load.Compounds.Count, load.Experiments.Count), ((int)features.UserCount, (int)features.CompoundCount, (int)features.ExperimentCount));
        Assert.Equal(load.Users.Select(u => u.UserId), features.Users.Select(u => u.UserId));
        Assert.Equal(load.Experiments.Count, features.Users.Sum(u => u.ExperimentCount));
        Assert.All(features.Users, u => Assert.Equal(u.ExperimentCount == 0, u.FavoriteCompoundId is null));
    }

    /// <summary>Physical lines as a text editor counts them: CRLF, LF and a lone CR each end one.</summary>
    static int LineCount(byte[] bytes)
    {
        var lines = 1;
        for (var i = 0; i < bytes.Length; i++)
        {
            if (bytes[i] == '\n' || (bytes[i] == '\r' && (i + 1 == bytes.Length || bytes[i + 1] != '\n')))
            {
                lines++;
            }
        }
        return lines;
    }

    static byte[] Utf8(string text)
    {
        var bytes = Encoding.UTF8.GetBytes(text);
        while (bytes.Length > MaxBytes)
        {
            text = text[..(text.Length * MaxBytes / bytes.Length - 2)];
            bytes = Encoding.UTF8.GetBytes(text);
        }
        return bytes;
    }

    static string RandomText(Random random)
    {
        var text = new StringBuilder();
        var length = random.Next(0, 1500);
        while (text.Length < length)
        {
            var choice = random.Next(4);
            text.Append(choice switch
            {
                0 => Tokens[random.Next(Tokens.Length)],
                1 => (char)random.Next(0x20, 0x7F),
                _ => random.Next(0, 30).ToString(System.Globalization.CultureInfo.InvariantCulture),
            });
        }
        return text.ToString();
    }

    static string MutateText(Random random, string text)
    {
        var mutations = random.Next(3) == 0 ? random.Next(2, 6) : 1;
        for (var m = 0; m < mutations; m++)
        {
            var lines = text.Split('\n').ToList();
            var position = random.Next(text.Length + 1);
            switch (random.Next(9))
            {
                case 0:
                case 1:
                    text = text.Insert(position, Tokens[random.Next(Tokens.Length)]);
                    break;
                case 2:
                    text = text.Remove(position, Math.Min(random.Next(1, 12), text.Length - position));
                    break;
                case 3:
                    if (position < text.Length)
                    {
                        text = string.Concat(text.AsSpan(0, position), ((char)random.Next(0, 0x80)).ToString(), text.AsSpan(position + 1));
                    }
                    break;
                case 4:
                    text = text[..position];
                    break;
                case 5:
                    var duplicated = random.Next(lines.Count);
                    lines.Insert(duplicated, lines[duplicated]);
                    text = string.Join('\n', lines);
                    break;
                case 6:
                    var removed = random.Next(lines.Count);
                    lines.RemoveAt(removed);
                    text = string.Join('\n', lines);
                    break;
                case 7:
                    var (a, b) = (random.Next(lines.Count), random.Next(lines.Count));
                    (lines[a], lines[b]) = (lines[b], lines[a]);
                    text = string.Join(random.Next(2) == 0 ? "\n" : "\r\n", lines);
                    break;
                default:
                    // Many rows: a larger file with repeated ids.
                    var copies = random.Next(2, 20);
                    text = string.Join('\n', lines.Concat(Enumerable.Repeat(lines[^1], copies)));
                    break;
            }
        }
        return text;
    }

    static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, MaxBytes + 1)];
        const string csvBytes = ",\t\n\r\";0123456789 ";
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = random.Next(2) == 0 ? (byte)csvBytes[random.Next(csvBytes.Length)] : (byte)random.Next(256);
        }
        return bytes;
    }

    static byte[] MutateBytes(Random random, byte[] original)
    {
        var bytes = original.ToList();
        var mutations = random.Next(1, 6);
        for (var m = 0; m < mutations; m++)
        {
            var position = random.Next(bytes.Count + 1);
            switch (random.Next(4))
            {
                case 0 when position < bytes.Count:
                    bytes[position] ^= (byte)(1 << random.Next(8));
                    break;
                case 1:
                    bytes.InsertRange(position, Enumerable.Range(0, random.Next(1, 4)).Select(_ => (byte)random.Next(256)));
                    break;
                case 2:
                    bytes.RemoveRange(position, bytes.Count - position);
                    break;
                default:
                    bytes.InsertRange(position, Encoding.UTF8.GetBytes(Tokens[random.Next(Tokens.Length)]));
                    break;
            }
        }
        return [.. bytes.Take(MaxBytes)];
    }

    static string Describe(byte[]?[] contents) =>
        string.Join("\n", Schemas.Select((s, f) => $"--- {s.FileName}: " + (contents[f] is { } bytes
            ? Convert.ToBase64String(bytes) + " = " + Escape(Encoding.UTF8.GetString(bytes))
            : "(missing)")));

    static string Escape(string text)
    {
        var escaped = text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\r", "\\r", StringComparison.Ordinal)
            .Replace("\n", "\\n", StringComparison.Ordinal).Replace("\t", "\\t", StringComparison.Ordinal).Replace("\0", "\\0", StringComparison.Ordinal);
        return escaped.Length > 1500 ? escaped[..1500] + "…" : escaped;
    }
}
