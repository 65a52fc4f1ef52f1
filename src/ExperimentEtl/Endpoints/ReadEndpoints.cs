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
            .WithName("ListUsers")
            .WithSummary("Users with their features, by id, a page at a time")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem));

        group.MapGet("/users/{userId:int}", GetUserAsync)
            .WithName("GetUser")
            .WithSummary("One user with their features")
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem));

        group.MapGet("/compounds", ListCompoundsAsync)
            .WithName("ListCompounds")
            .WithSummary("Compounds with the experiments that used them and the number of distinct users, by id, a page at a time")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem));

        group.MapGet("/summary", async (ReadModel read, CancellationToken cancellationToken) => TypedResults.Ok(await read.GetSummaryAsync(cancellationToken)))
            .WithName("GetSummary")
            .WithSummary("Headline figures, the most used compounds, the most active users, experiments per user and the last run");

        return app;
    }

    static async Task<Results<Ok<UserPage>, ProblemHttpResult>> ListUsersAsync(
        HttpRequest request,
        ReadModel read,
        [Description("users per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last user id of the previous page")] int? after,
        [Description("only users whose name contains this text (case-insensitive); a page looks through at most 10,000 users, so it may hold fewer than limit, even none, and still have a next page")] string? q,
        CancellationToken cancellationToken)
    {
        if (Problems.CheckLimit(limit, 1000) is { } badLimit)
        {
            return badLimit;
        }
        if (q is not null && !Problems.IsUsableText(q))
        {
            return Problems.InvalidParameter("q", "must be text without NUL characters");
        }
        var size = limit ?? 100;
        var page = await read.ListUsersAsync(size, after ?? -1, q, cancellationToken);
        return TypedResults.Ok(new UserPage(page.Users, page.ContinueAfter is { } next
            ? PageLinks.To(request, "/api/users", ("limit", $"{size}"), ("after", $"{next}"), ("q", string.IsNullOrWhiteSpace(q) ? null : q))
            : null));
    }

    static async Task<Results<Ok<UserDetail>, ProblemHttpResult>> GetUserAsync(int userId, ReadModel read, CancellationToken cancellationToken) =>
        await read.GetUserAsync(userId, cancellationToken) is { } user ? TypedResults.Ok(user) : Problems.NotFound("user", userId);

    static async Task<Results<Ok<CompoundPage>, ProblemHttpResult>> ListCompoundsAsync(
        HttpRequest request,
        ReadModel read,
        [Description("compounds per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last compound id of the previous page")] int? after,
        CancellationToken cancellationToken)
    {
        if (Problems.CheckLimit(limit, 1000) is { } badLimit)
        {
            return badLimit;
        }
        var size = limit ?? 100;
        var compounds = await read.ListCompoundsAsync(size, after ?? -1, cancellationToken);
        return TypedResults.Ok(new CompoundPage(compounds, compounds.Count == size
            ? PageLinks.To(request, "/api/compounds", ("limit", $"{size}"), ("after", $"{compounds[^1].CompoundId}"))
            : null));
    }
}
