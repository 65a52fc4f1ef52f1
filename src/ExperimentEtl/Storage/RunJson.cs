using System.Text.Json;
using ExperimentEtl.Pipeline;

namespace ExperimentEtl.Storage;

/// <summary>Per-file figures of a run are kept as one JSON column: they are only ever read back whole.</summary>
static class RunJson
{
    static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower };

    public static string Files(RunRecord run) => JsonSerializer.Serialize(run.Files, Options);
}
