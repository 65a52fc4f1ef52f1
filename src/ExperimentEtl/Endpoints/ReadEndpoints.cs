using System.ComponentModel;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>The read API over the current data set: users and compounds page by id; a summary for dashboards.</summary>
public static class ReadEndpoints
{
    public sealed record UserPage(IReadOnlyList<UserDetail> Users, string? Next);

    public sealed record CompoundPage(IReadOnlyList<CompoundDetail> Compounds, string? Next);

    public static IEndpointRouteBuilder MapReadEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/api").WithTags("Data").RequireSchema().RequireReadLimit();

        group.MapGet("/users", ListUsersAsync)
            .WithSummary("Users with their features, by id, a page at a time")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        group.MapGet("/users/{userId:int}", GetUserAsync)
            .WithSummary("One user with their features");

        group.MapGet("/compounds", ListCompoundsAsync)
            .WithSummary("Compounds with the experiments that used them and the number of distinct users, by id, a page at a time")
            .ProducesProblem(StatusCodes.Status400BadRequest);

        group.MapGet("/summary", async (ReadModel read, CancellationToken cancellationToken) => TypedResults.Ok(await read.GetSummaryAsync(cancellationToken)))
            .WithSummary("Headline figures, the most used compounds, the most active users, experiments per user and the last run");

        return app;
    }

    static async Task<Results<Ok<UserPage>, ProblemHttpResult>> ListUsersAsync(
        ReadModel read,
        [Description("users per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last user id of the previous page")] int? after,
        [Description("only users whose name contains this text (case-insensitive); a page looks through at most 10,000 users, so it may hold fewer than limit, even none, and still have a next page")] string? q,
        CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            return Problems.BadRequest("limit out of range", "limit is 1 to 1000.");
        }
        if (q is not null && !Problems.IsUsableText(q))
        {
            return Problems.InvalidParameter("q", "must be text without NUL characters");
        }
        var size = limit ?? 100;
        var page = await read.ListUsersAsync(size, after ?? -1, q, cancellationToken);
        var query = string.IsNullOrWhiteSpace(q) ? "" : "&q=" + Uri.EscapeDataString(q);
        return TypedResults.Ok(new UserPage(page.Users, page.ContinueAfter is { } next ? $"/api/users?limit={size}&after={next}{query}" : null));
    }

    static async Task<Results<Ok<UserDetail>, ProblemHttpResult>> GetUserAsync(int userId, ReadModel read, CancellationToken cancellationToken) =>
        await read.GetUserAsync(userId, cancellationToken) is { } user ? TypedResults.Ok(user) : Problems.NotFound("user");

    static async Task<Results<Ok<CompoundPage>, ProblemHttpResult>> ListCompoundsAsync(
        ReadModel read,
        [Description("compounds per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last compound id of the previous page")] int? after,
        CancellationToken cancellationToken)
    {
        if (limit is < 1 or > 1000)
        {
            return Problems.BadRequest("limit out of range", "limit is 1 to 1000.");
        }
        var size = limit ?? 100;
        var compounds = await read.ListCompoundsAsync(size, after ?? -1, cancellationToken);
        return TypedResults.Ok(new CompoundPage(compounds, compounds.Count == size ? $"/api/compounds?limit={size}&after={compounds[^1].CompoundId}" : null));
    }
}
