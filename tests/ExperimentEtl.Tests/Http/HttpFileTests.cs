using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using ExperimentEtl.Tests.Infrastructure;

namespace ExperimentEtl.Tests.Http;

/// <summary>
/// The sample requests of src/ExperimentEtl/ExperimentEtl.http are sent in order, as a person would send them, and every
/// answer must succeed and agree with the OpenAPI document: the file cannot rot.
/// </summary>
public sealed partial class HttpFileTests
{
    const string Key = "http-file-key";

    /// <summary>One request of the file: its title, its name (# @name), and its lines before substitution.</summary>
    sealed record Sample(string Title, string? Name, string RequestLine, IReadOnlyList<string> Headers, IReadOnlyList<string> Body);

    [GeneratedRegex(@"\{\{(?<expression>[^}]+)\}\}")]
    private static partial Regex Placeholder();

    /// <summary>
    /// Reads the format the ASP.NET Core templates use: <c>@name = value</c> variables, <c>###</c> between requests,
    /// <c># @name</c> to name one, <c>&lt; path</c> for a file's content in a body.
    /// </summary>
    static (Dictionary<string, string> Variables, List<Sample> Samples) Parse(string path)
    {
        var variables = new Dictionary<string, string>();
        var samples = new List<Sample>();
        var blocks = File.ReadAllText(path).Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n###");
        foreach (var line in blocks[0].Split('\n').Where(l => l.StartsWith('@')))
        {
            var (name, value) = (line[1..line.IndexOf('=', StringComparison.Ordinal)].Trim(), line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..].Trim());
            variables[name] = value;
        }
        foreach (var block in blocks.Skip(1))
        {
            var lines = block.Split('\n');
            string? name = null;
            var index = 1;
            for (; index < lines.Length && (lines[index].StartsWith('#') || lines[index].Length == 0); index++)
            {
                if (lines[index].StartsWith("# @name ", StringComparison.Ordinal))
                {
                    name = lines[index]["# @name ".Length..].Trim();
                }
            }
            var requestLine = lines[index++];
            var headers = new List<string>();
            for (; index < lines.Length && lines[index].Length > 0; index++)
            {
                headers.Add(lines[index]);
            }
            var body = lines.Skip(index + 1).Reverse().SkipWhile(string.IsNullOrWhiteSpace).Reverse().ToList();
            samples.Add(new Sample(lines[0].Trim(), name, requestLine, headers, body));
        }
        return (variables, samples);
    }

    [Fact]
    public async Task Every_sample_request_succeeds_and_agrees_with_the_document()
    {
        var httpFile = Path.Combine(TestPostgres.RepositoryRoot(), "src", "ExperimentEtl", "ExperimentEtl.http");
        var (variables, samples) = Parse(httpFile);
        Assert.True(samples.Count >= 10, $"{samples.Count} samples");
        using var files = TestFiles.BundledSample();
        await using var app = await EtlAppFactory.CreateAsync(Backend.Sqlite, files.Directory, new Dictionary<string, string> { ["API_KEY"] = Key });
        var contract = await OpenApiContract.LoadAsync(app.CreateClient());
        var checker = new ContractCheckingHandler(contract);
        var client = app.CreateDefaultClient(checker);
        variables["ExperimentEtl_HostAddress"] = client.BaseAddress!.ToString().TrimEnd('/');
        variables["ApiKey"] = Key;
        var named = new Dictionary<string, JsonElement>();

        string Substitute(string text) => Placeholder().Replace(text, match =>
        {
            var expression = match.Groups["expression"].Value.Trim();
            if (variables.TryGetValue(expression, out var value))
            {
                return value;
            }
            // {{request.response.body.$.property}}: a top-level property of a named request's JSON answer.
            var parts = expression.Split('.');
            Assert.True(parts is [_, "response", "body", "$", _] && named.ContainsKey(parts[0]), $"unknown placeholder {expression}");
            return named[parts[0]].GetProperty(parts[4]).ToString();
        });

        foreach (var sample in samples)
        {
            var requestLine = Substitute(sample.RequestLine).Split(' ');
            using var request = new HttpRequestMessage(new HttpMethod(requestLine[0]), requestLine[1]);
            string? contentType = null;
            foreach (var header in sample.Headers.Select(Substitute))
            {
                var (name, value) = (header[..header.IndexOf(':', StringComparison.Ordinal)].Trim(), header[(header.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim());
                if (name.Equals("Content-Type", StringComparison.OrdinalIgnoreCase))
                {
                    contentType = value;
                }
                else
                {
                    request.Headers.Add(name, value);
                }
            }
            if (sample.Body.Count > 0)
            {
                // Multipart framing wants CRLF; a "< path" line is that file's content, relative to the .http file.
                var body = string.Join("\r\n", sample.Body.Select(line => line.StartsWith("< ", StringComparison.Ordinal)
                    ? File.ReadAllText(Path.Combine(Path.GetDirectoryName(httpFile)!, line[2..].Trim())).TrimEnd('\n')
                    : Substitute(line))) + "\r\n";
                request.Content = new ByteArrayContent(Encoding.UTF8.GetBytes(body));
                request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
            }

            var response = await client.SendAsync(request);

            Assert.True(response.IsSuccessStatusCode, $"{sample.Title}: HTTP {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
            if (sample.Name is not null)
            {
                named[sample.Name] = await response.ReadJsonAsync();
            }
            if (response.StatusCode == HttpStatusCode.Accepted)
            {
                // A person looks at the run before sending the next request; so does the test, until it has ended.
                var deadline = DateTime.UtcNow.AddSeconds(30);
                while ((await (await client.GetAsync(response.Headers.Location)).ReadJsonAsync()).GetProperty("status").GetString() is "queued" or "running")
                {
                    Assert.True(DateTime.UtcNow < deadline, $"{sample.Title}: the run did not end within 30 s");
                    await Task.Delay(50);
                }
            }
        }
        Assert.Empty(checker.Violations);
    }
}
