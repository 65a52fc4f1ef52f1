using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Bounds how many data reads run at once; the others queue, oldest first. With one database connection per request,
/// 32 clients on 2 cores meant 32 database processes taking turns unfairly, and a few requests waited far longer than
/// the rest (one user at 1M users, PostgreSQL: p99 100 ms unbounded, 15 ms with 8 at once; docs/benchmarks.md).
/// Reports, runs, health and metrics are not bounded: a long report download must not hold back a page, nor a probe
/// wait for one.
/// </summary>
public static class ReadLimit
{
    public const string Policy = "reads";

    /// <summary>
    /// Reads that may wait, for each one running; past that a read answers 503 at once rather than wait behind a backlog
    /// it cannot see the end of (64 × 8 on 2 cores: about half a second of pages).
    /// </summary>
    public const int WaitingPerReader = 64;

    public static IServiceCollection AddReadLimit(this IServiceCollection services, int concurrency) =>
        services.AddRateLimiter(options =>
        {
            options.AddConcurrencyLimiter(Policy, limiter =>
            {
                limiter.PermitLimit = concurrency;
                limiter.QueueLimit = WaitingPerReader * concurrency;
                limiter.QueueProcessingOrder = QueueProcessingOrder.OldestFirst;
            });
            options.OnRejected = async (context, _) =>
            {
                context.HttpContext.Response.Headers.RetryAfter = "1";
                await Problems.Overloaded(WaitingPerReader * concurrency).ExecuteAsync(context.HttpContext);
            };
        });

    /// <summary>The builder's endpoints run at most the configured number at once.</summary>
    public static TBuilder RequireReadLimit<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(Policy).ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(Problem));
}
