using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Json.Schema;

namespace ExperimentEtl.Tests.Infrastructure;

/// <summary>
/// Checks real HTTP answers against the service's own OpenAPI document (<c>/openapi/v1.json</c>): the path and method
/// are an operation of the document, the status is one of its responses (or its <c>default</c>), the media type is one the
/// response declares, its required headers are there, and a JSON body is valid against the declared schema. The schemas
/// are JSON Schema 2020-12 (OpenAPI 3.1), evaluated by JsonSchema.Net, not by the service's own code.
/// </summary>
public sealed class OpenApiContract
{
    readonly JsonObject _paths;
    readonly JsonObject _schemas;
    readonly ConcurrentDictionary<string, JsonSchema> _compiled = new();

    OpenApiContract(JsonObject document)
    {
        _paths = document["paths"]!.AsObject();
        _schemas = document["components"]?["schemas"]?.AsObject() ?? [];
    }

    public static async Task<OpenApiContract> LoadAsync(HttpClient client)
    {
        var text = await client.GetStringAsync("/openapi/v1.json");
        return new OpenApiContract(JsonNode.Parse(text)!.AsObject());
    }

    /// <summary>Every operation of the document, as "METHOD /template".</summary>
    public IEnumerable<string> Operations => _paths.SelectMany(path => path.Value!.AsObject()
        .Where(operation => operation.Key is "get" or "put" or "post" or "delete" or "patch" or "head" or "options")
        .Select(operation => $"{operation.Key.ToUpperInvariant()} {path.Key}"));

    /// <summary>The operations and statuses seen so far, as "METHOD /template STATUS".</summary>
    public ConcurrentBag<string> Covered { get; } = [];

    /// <summary>What the answer does that the document does not say; empty when it agrees.</summary>
    public async Task<IReadOnlyList<string>> CheckAsync(HttpRequestMessage request, HttpResponseMessage response)
    {
        var method = request.Method.Method.ToLowerInvariant();
        var path = request.RequestUri!.AbsolutePath;
        var status = ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var exchange = $"{request.Method} {request.RequestUri.PathAndQuery} -> {status}";
        if (FindTemplate(path) is not { } template)
        {
            return [];
        }
        if (_paths[template]![method] is not JsonObject operation)
        {
            // A method the path does not take: the framework's 405, outside the document.
            return [];
        }
        Covered.Add($"{request.Method} {template} {status}");
        var responses = operation["responses"]!.AsObject();
        if ((responses[status] ?? responses["default"]) is not JsonObject declared)
        {
            return [$"{exchange}: status not in the document (declared: {string.Join(", ", responses.Select(r => r.Key))})"];
        }

        var problems = new List<string>();
        foreach (var (name, header) in declared["headers"]?.AsObject() ?? [])
        {
            if (header?["required"]?.GetValue<bool>() == true && !response.Headers.Contains(name) && !response.Content.Headers.Contains(name))
            {
                problems.Add($"{exchange}: required header {name} missing");
            }
        }

        var body = await response.Content.ReadAsStringAsync();
        var content = declared["content"]?.AsObject();
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (content is null || content.Count == 0)
        {
            if (body.Length > 0)
            {
                problems.Add($"{exchange}: a body ({mediaType}) where the document declares none");
            }
            return problems;
        }
        if (mediaType is null || content[mediaType] is not JsonObject media)
        {
            problems.Add($"{exchange}: media type {mediaType ?? "(none)"} not declared (declared: {string.Join(", ", content.Select(c => c.Key))})");
            return problems;
        }
        if (!mediaType.EndsWith("json", StringComparison.Ordinal) || media["schema"] is not JsonObject schema)
        {
            return problems;
        }
        var key = $"{template} {method} {status} {mediaType}";
        var compiled = _compiled.GetOrAdd(key, _ => Compile(schema));
        JsonElement instance;
        try
        {
            instance = JsonDocument.Parse(body).RootElement;
        }
        catch (JsonException)
        {
            problems.Add($"{exchange}: {mediaType} body is not JSON: {body[..Math.Min(body.Length, 200)]}");
            return problems;
        }
        var result = compiled.Evaluate(instance, new EvaluationOptions { OutputFormat = OutputFormat.List });
        if (!result.IsValid)
        {
            var errors = (result.Details ?? []).Where(d => d.Errors is { Count: > 0 })
                .SelectMany(d => d.Errors!.Select(e => $"{d.InstanceLocation} ({d.EvaluationPath}): {e.Value}"));
            problems.Add($"{exchange}: body does not match the schema: {string.Join("; ", errors.Take(10))}\n{body[..Math.Min(body.Length, 1000)]}");
        }
        return problems;
    }

    /// <summary>The document's path template for a request path: literal segments first, then any {parameter}.</summary>
    string? FindTemplate(string path)
    {
        var segments = path.Split('/');
        return _paths.Select(p => p.Key)
            .Where(template => template.Split('/') is var parts && parts.Length == segments.Length &&
                               parts.Zip(segments).All(pair => pair.First.StartsWith('{') || pair.First == pair.Second))
            .OrderBy(template => template.Count(c => c == '{'))
            .FirstOrDefault();
    }

    /// <summary>A standalone 2020-12 schema: the response's schema with the document's components as $defs.</summary>
    JsonSchema Compile(JsonObject schema)
    {
        var root = (JsonObject)Rewrite(schema.DeepClone());
        root["$schema"] = "https://json-schema.org/draft/2020-12/schema";
        root["$defs"] = Rewrite(_schemas.DeepClone());
        return JsonSchema.FromText(root.ToJsonString(), new BuildOptions { SchemaRegistry = new SchemaRegistry() });
    }

    static JsonNode Rewrite(JsonNode node)
    {
        switch (node)
        {
            case JsonObject obj:
                if (obj["$ref"]?.GetValue<string>() is { } reference)
                {
                    obj["$ref"] = reference.Replace("#/components/schemas/", "#/$defs/", StringComparison.Ordinal);
                }
                foreach (var (_, child) in obj.ToList())
                {
                    if (child is not null)
                    {
                        Rewrite(child);
                    }
                }
                break;
            case JsonArray array:
                foreach (var child in array)
                {
                    if (child is not null)
                    {
                        Rewrite(child);
                    }
                }
                break;
        }
        return node;
    }
}

/// <summary>Runs every exchange of a client through <see cref="OpenApiContract"/> and keeps what disagreed.</summary>
public sealed class ContractCheckingHandler(OpenApiContract contract) : DelegatingHandler
{
    public ConcurrentQueue<string> Violations { get; } = new();

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var response = await base.SendAsync(request, cancellationToken);
        // Buffered, so that the test can still read the body.
        await response.Content.LoadIntoBufferAsync(cancellationToken);
        foreach (var violation in await contract.CheckAsync(request, response))
        {
            Violations.Enqueue(violation);
        }
        return response;
    }
}
