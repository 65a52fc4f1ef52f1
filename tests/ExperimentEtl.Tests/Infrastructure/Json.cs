using System.Text.Json;

namespace ExperimentEtl.Tests.Infrastructure;

public static class Json
{
    /// <summary>Reads a response body as a JSON document, with the status code in the failure message when it is not JSON.</summary>
    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response)
    {
        var body = await response.Content.ReadAsStringAsync();
        try
        {
            return JsonDocument.Parse(body).RootElement.Clone();
        }
        catch (JsonException)
        {
            throw new Xunit.Sdk.XunitException($"HTTP {(int)response.StatusCode}: not JSON: {body}");
        }
    }
}
