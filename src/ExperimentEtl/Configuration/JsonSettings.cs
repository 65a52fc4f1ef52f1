using System.Text.Json;
using System.Text.Json.Serialization;

namespace ExperimentEtl.Configuration;

/// <summary>The JSON of the service's answers, shared with the command-line tool's <c>--json</c>.</summary>
public static class JsonSettings
{
    /// <summary>The seed answered in snake_case; every JSON answer of the service does the same.</summary>
    public static void Apply(JsonSerializerOptions options)
    {
        options.PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower;
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower));
        // Numbers are written as numbers, and the service reads no JSON: the web default (numbers also read from
        // strings) made the OpenAPI document type every number as number-or-string.
        options.NumberHandling = JsonNumberHandling.Strict;
    }

    /// <summary>ASP.NET Core's defaults for HTTP answers with <see cref="Apply"/>: what the service writes, byte for byte.</summary>
    public static JsonSerializerOptions ForAnswers()
    {
        var options = new Microsoft.AspNetCore.Http.Json.JsonOptions().SerializerOptions;
        Apply(options);
        return options;
    }
}
