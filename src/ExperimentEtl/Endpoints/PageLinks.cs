using Microsoft.AspNetCore.Http.Extensions;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// The <c>next</c> links of paged answers: absolute URLs built from the request (scheme, host, path base), as the OpenAPI
/// document's server URL is, so that a client follows one as it is (Kiota's <c>WithUrl</c> takes only absolute URLs).
/// Behind a proxy that rewrites the host, the forwarded headers must be applied for both to be right.
/// </summary>
public static class PageLinks
{
    public static string To(HttpRequest request, string path, params (string Name, string? Value)[] query) =>
        UriHelper.BuildAbsolute(request.Scheme, request.Host, request.PathBase, path,
            QueryString.Create(query.Where(pair => pair.Value is not null).Select(pair => KeyValuePair.Create(pair.Name, pair.Value))));
}
