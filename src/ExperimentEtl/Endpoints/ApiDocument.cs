using System.Text.Json.Nodes;
using ExperimentEtl.Model;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// The OpenAPI document at <c>/openapi/v1.json</c>, shaped so that generated clients can use it as it is: what ASP.NET
/// Core derives from the endpoints, plus what it cannot know (the API key scheme, the default problem answer, closed
/// vocabularies, the CSV bodies, the Location header). The contract test checks every answer against it.
/// </summary>
public static class ApiDocument
{
    public const string ApiKeyScheme = "ApiKey";

    // In the order a reader meets them (the document lists tags in this order; the generator would sort them by name).
    static readonly (string Name, string Description)[] Tags =
    [
        ("Seed API", "The seed's endpoints, with the same paths and answer shapes."),
        ("Runs", "ETL runs as a resource: start, follow, list, inspect rejects, cancel."),
        ("Data", "The current data set, a page at a time."),
        ("Changes", "What each load changed against the previous one, the rows behind the numbers, and the history of loads."),
        ("Health", "Liveness and readiness probes."),
    ];

    public static IServiceCollection AddApiDocument(this IServiceCollection services) => services.AddOpenApi(options =>
    {
        options.AddDocumentTransformer(DescribeDocumentAsync);
        options.AddOperationTransformer(DescribeOperationAsync);
        options.AddSchemaTransformer(DescribeSchemaAsync);
    });

    static Task DescribeDocumentAsync(OpenApiDocument document, OpenApiDocumentTransformerContext context, CancellationToken cancellationToken)
    {
        document.Info.Title = "ExperimentEtl";
        document.Info.Description = "Loads users, compounds and experiments from CSV files into a database, derives per-user " +
                                    "features and serves them. Errors are RFC 9457 problem details (application/problem+json).";
        // Built from the request; clients join paths to it, so no trailing slash.
        foreach (var server in document.Servers ?? [])
        {
            server.Url = server.Url?.TrimEnd('/');
        }
        document.Components ??= new OpenApiComponents();
        document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
        document.Components.SecuritySchemes[ApiKeyScheme] = new OpenApiSecurityScheme
        {
            Type = SecuritySchemeType.ApiKey,
            In = ParameterLocation.Header,
            Name = ApiKeyFilter.Header,
            Description = "The service's API key, on the operations that change data. Checked only when the service is " +
                          "started with API_KEY; otherwise the header is ignored.",
        };
        if (document.Tags is { } tags)
        {
            var order = Tags.Select(t => t.Name).ToList();
            var sorted = tags.OrderBy(t => order.IndexOf(t.Name ?? "") is var i && i >= 0 ? i : order.Count).ToList();
            tags.Clear();
            foreach (var tag in sorted)
            {
                tag.Description = Tags.FirstOrDefault(t => t.Name == tag.Name).Description ?? tag.Description;
                tags.Add(tag);
            }
        }
        return Task.CompletedTask;
    }

    static Task DescribeOperationAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        // Every operation says whether it needs the key: an empty list means none (the read endpoints stay open).
        operation.Security = metadata.OfType<ApiKeyRequired>().Any()
            ? [new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(ApiKeyScheme, context.Document)] = [] }]
            : [];

        operation.Responses ??= [];
        foreach (var (status, response) in operation.Responses)
        {
            if (response is not OpenApiResponse concrete)
            {
                continue;
            }
            // CSV is text, whatever type the endpoint's metadata named for its JSON twin.
            if (concrete.Content?.TryGetValue("text/csv", out var csv) == true && csv is OpenApiMediaType csvMedia)
            {
                csvMedia.Schema = new OpenApiSchema { Type = JsonSchemaType.String };
            }
            if (status == "202")
            {
                concrete.Headers ??= new Dictionary<string, IOpenApiHeader>();
                concrete.Headers["Location"] = new OpenApiHeader
                {
                    Description = "The run's URL, relative to the server (GET it to follow the run).",
                    Required = true,
                    Schema = new OpenApiSchema { Type = JsonSchemaType.String, Format = "uri-reference" },
                };
            }
        }
        // Any other failure (a bug: 500; a full disk: 507) is a problem answer too.
        operation.Responses.TryAdd("default", new OpenApiResponse
        {
            Description = "An unexpected failure, as a problem",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["application/problem+json"] = new() { Schema = new OpenApiSchemaReference(nameof(Problem), context.Document) },
            },
        });
        return Task.CompletedTask;
    }

    static Task DescribeSchemaAsync(OpenApiSchema schema, OpenApiSchemaTransformerContext context, CancellationToken cancellationToken)
    {
        if (context.JsonPropertyInfo is not { } property)
        {
            return Task.CompletedTask;
        }
        var owner = property.DeclaringType;
        switch (property.Name)
        {
            case "status" when owner == typeof(RunRecord):
                schema.Enum = Vocabulary(RunStatus.All);
                break;
            case "source" when owner == typeof(RunRecord):
                schema.Enum = Vocabulary(RunSource.DataFolder, RunSource.Upload);
                break;
            case "status" when owner == typeof(HealthEndpoints.HealthResponse):
                schema.Enum = Vocabulary("ok", "ready");
                break;
            case "next":
                schema.Format = "uri";
                schema.Description = "The next page's absolute URL, built from this request; null on the last page.";
                break;
        }
        return Task.CompletedTask;
    }

    static List<JsonNode> Vocabulary(params IEnumerable<string> words) => [.. words.Select(word => (JsonNode)JsonValue.Create(word))];

    /// <summary>For an endpoint that answers CSV whatever the Accept header says.</summary>
    public static Task CsvOnlyAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        if (operation.Responses?.TryGetValue("200", out var ok) == true && ok is OpenApiResponse { Content: { } content })
        {
            content.Remove("application/json");
        }
        return Task.CompletedTask;
    }

    /// <summary>
    /// The upload of <c>POST /api/etl/runs</c>: three named file parts, all needed when a body is sent, and the body
    /// itself optional (without one the run reads the data folder).
    /// </summary>
    public static Task DescribeUploadAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken cancellationToken)
    {
        var parts = new Dictionary<string, IOpenApiSchema>();
        var encoding = new Dictionary<string, OpenApiEncoding>();
        foreach (var (part, file) in UploadReader.Parts)
        {
            parts[part] = new OpenApiSchema { Type = JsonSchemaType.String, Format = "binary", Description = $"{file}: CSV, UTF-8" };
            encoding[part] = new OpenApiEncoding { ContentType = "text/csv, application/octet-stream" };
        }
        operation.RequestBody = new OpenApiRequestBody
        {
            Required = false,
            Description = "The three files to load; without a body the run reads the service's data folder.",
            Content = new Dictionary<string, OpenApiMediaType>
            {
                ["multipart/form-data"] = new()
                {
                    Schema = new OpenApiSchema { Type = JsonSchemaType.Object, Properties = parts, Required = new HashSet<string>(parts.Keys) },
                    Encoding = encoding,
                },
            },
        };
        foreach (var parameter in operation.Parameters ?? [])
        {
            if (parameter is OpenApiParameter { Name: "mode", Schema: OpenApiSchema schema })
            {
                schema.Enum = Vocabulary("strict", "lenient");
                schema.Default = JsonValue.Create("strict");
            }
        }
        return Task.CompletedTask;
    }
}
