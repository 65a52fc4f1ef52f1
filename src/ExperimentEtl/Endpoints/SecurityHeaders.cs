namespace ExperimentEtl.Endpoints;

/// <summary>Headers every answer carries, error answers included.</summary>
public static class SecurityHeaders
{
    /// <summary>The dashboard loads only its own files (Chart.js is vendored, no inline script or style) and a data: favicon.</summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// The API reference (Scalar) starts from an inline module script, styles itself inline and loads its fonts from its
    /// own font host; it still reaches no other origin, and evaluates no strings (its validator library works without).
    /// </summary>
    public const string DocsContentSecurityPolicy =
        "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
        "font-src 'self' data: https://fonts.scalar.com; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

    public const string DocsPath = "/docs";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) => app.Use((context, next) =>
    {
        // When the answer starts: the exception handler clears the headers set before it.
        context.Response.OnStarting(static state =>
        {
            var http = (HttpContext)state;
            http.Response.Headers.XContentTypeOptions = "nosniff";
            http.Response.Headers.ContentSecurityPolicy =
                http.Request.Path.StartsWithSegments(DocsPath) ? DocsContentSecurityPolicy : ContentSecurityPolicy;
            return Task.CompletedTask;
        }, context);
        return next(context);
    });
}
