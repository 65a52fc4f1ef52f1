namespace ExperimentEtl.Endpoints;

/// <summary>Headers every answer carries, error answers included.</summary>
public static class SecurityHeaders
{
    /// <summary>
    /// The dashboard loads only its own files (Chart.js is vendored, no inline script or style) and a data: favicon.
    /// The API reference at /docs (Scalar) relies on inline scripts and styles and gets no policy.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public const string DocsPath = "/docs";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        // When the answer starts: the exception handler clears the headers set before it.
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            http.Response.Headers.XContentTypeOptions = "nosniff";
            if (!http.Request.Path.StartsWithSegments(DocsPath))
            {
                http.Response.Headers.ContentSecurityPolicy = ContentSecurityPolicy;
            }
            return Task.CompletedTask;
        }, context);
        return next(context);
    });
}
