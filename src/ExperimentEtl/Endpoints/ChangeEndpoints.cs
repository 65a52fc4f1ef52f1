using System.ComponentModel;
using ExperimentEtl.Model;
using ExperimentEtl.Storage;
using ExperimentEtl.Storage.Changes;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>What each load changed (its counts and the rows behind them) and the history of loads.</summary>
public static class ChangeEndpoints
{
    public sealed record UserChangePage(IReadOnlyList<UserChange> Users, string? Next);

    public sealed record CompoundChangePage(IReadOnlyList<CompoundChange> Compounds, string? Next);

    public sealed record ExperimentChangePage(IReadOnlyList<ExperimentChange> Experiments, string? Next);

    public sealed record HistoryPage(IReadOnlyList<LoadHistoryEntry> Loads, string? Next);

    public static IEndpointRouteBuilder MapChangeEndpoints(this IEndpointRouteBuilder app)
    {
        var changes = app.MapGroup(RunEndpoints.Path + "/{runId:guid}/changes").WithTags("Changes").RequireSchema().RequireReadLimit();

        changes.MapGet("", GetChangeAsync)
            .WithName("GetRunChanges")
            .WithSummary("What a successful run changed against the data set it replaced: rows added, removed, changed per table, favourites and counts that moved, the average before and after")
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem));

        changes.MapGet("/users", ListUsersAsync)
            .WithName("ListUserChanges")
            .WithSummary("The users behind a count of the change, by id, each with their values before and after")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem))
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status410Gone, typeof(Problem));

        changes.MapGet("/compounds", ListCompoundsAsync)
            .WithName("ListCompoundChanges")
            .WithSummary("The compounds added, removed or changed, by id, each with its values before and after")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem))
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status410Gone, typeof(Problem));

        changes.MapGet("/experiments", ListExperimentsAsync)
            .WithName("ListExperimentChanges")
            .WithSummary("The experiments added, removed or changed, by id, each with its values before and after")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem))
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status410Gone, typeof(Problem));

        app.MapGet("/api/history", ListHistoryAsync)
            .WithTags("Changes")
            .RequireSchema()
            .RequireReadLimit()
            .WithName("ListLoadHistory")
            .WithSummary("The successful loads, newest first, each with its figures, both averages and its change counts")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem));

        return app;
    }

    static async Task<Results<Ok<DataSetChange>, ProblemHttpResult>> GetChangeAsync(
        Guid runId, ChangeReads changes, IEtlStore store, CancellationToken cancellationToken) =>
        await changes.GetChangeAsync(runId, cancellationToken) is { } change
            ? TypedResults.Ok(change)
            : await NoChangeAsync(runId, store, cancellationToken);

    static Task<Results<Ok<UserChangePage>, ProblemHttpResult>> ListUsersAsync(
        HttpRequest request, Guid runId, ChangeReads changes, IEtlStore store,
        [Description("added, removed, changed, fav_compound_changed or count_changed")] string? kind,
        [Description("entries per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last user id of the previous page")] int? after,
        CancellationToken cancellationToken) =>
        ListAsync(request, runId, "users", ChangeKinds.Users, kind, limit, after, changes, store,
            (size, from) => changes.ListUsersAsync(runId, kind!, from, size, cancellationToken),
            (page, next) => new UserChangePage(page.Entries, next), cancellationToken);

    static Task<Results<Ok<CompoundChangePage>, ProblemHttpResult>> ListCompoundsAsync(
        HttpRequest request, Guid runId, ChangeReads changes, IEtlStore store,
        [Description("added, removed or changed")] string? kind,
        [Description("entries per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last compound id of the previous page")] int? after,
        CancellationToken cancellationToken) =>
        ListAsync(request, runId, "compounds", ChangeKinds.Rows, kind, limit, after, changes, store,
            (size, from) => changes.ListCompoundsAsync(runId, kind!, from, size, cancellationToken),
            (page, next) => new CompoundChangePage(page.Entries, next), cancellationToken);

    static Task<Results<Ok<ExperimentChangePage>, ProblemHttpResult>> ListExperimentsAsync(
        HttpRequest request, Guid runId, ChangeReads changes, IEtlStore store,
        [Description("added, removed or changed")] string? kind,
        [Description("entries per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last experiment id of the previous page")] int? after,
        CancellationToken cancellationToken) =>
        ListAsync(request, runId, "experiments", ChangeKinds.Rows, kind, limit, after, changes, store,
            (size, from) => changes.ListExperimentsAsync(runId, kind!, from, size, cancellationToken),
            (page, next) => new ExperimentChangePage(page.Entries, next), cancellationToken);

    static async Task<Results<Ok<TPage>, ProblemHttpResult>> ListAsync<TEntry, TPage>(
        HttpRequest request, Guid runId, string table, IReadOnlyList<string> kinds, string? kind, int? limit, int? after,
        ChangeReads changes, IEtlStore store,
        Func<int, int, Task<ChangePage<TEntry>>> read, Func<ChangePage<TEntry>, string?, TPage> page,
        CancellationToken cancellationToken)
    {
        if (kind is null || !kinds.Contains(kind))
        {
            return Problems.InvalidParameter("kind", $"is one of {string.Join(", ", kinds)}");
        }
        if (Problems.CheckLimit(limit, 1000) is { } badLimit)
        {
            return badLimit;
        }
        switch (await changes.GetListStateAsync(runId, table, cancellationToken))
        {
            case ChangeListState.NoChange:
                return await NoChangeAsync(runId, store, cancellationToken);
            case ChangeListState.TooLong:
                return Gone($"The {table} this run changed were more than the list limit (ETL_CHANGE_LIST_LIMIT), so only their counts were kept " +
                            $"(see {RunEndpoints.Path}/{runId}/changes).");
            case ChangeListState.Expired:
                return Gone("Change lists are kept for the most recent loads only (ETL_CHANGE_LISTS_KEPT); this run's were removed. " +
                            "Its counts are still in /api/history.");
        }
        var size = limit ?? 100;
        var entries = await read(size, after ?? int.MinValue);
        var next = entries.ContinueAfter is { } last
            ? PageLinks.To(request, $"{RunEndpoints.Path}/{runId}/changes/{table}", ("kind", kind), ("limit", $"{size}"), ("after", $"{last}"))
            : null;
        return TypedResults.Ok(page(entries, next));
    }

    static async Task<Results<Ok<HistoryPage>, ProblemHttpResult>> ListHistoryAsync(
        HttpRequest request, ChangeReads changes,
        [Description("loads per page, 1 to 100 (default 20)")] int? limit,
        [Description("the last run id of the previous page")] Guid? before,
        CancellationToken cancellationToken)
    {
        if (Problems.CheckLimit(limit, 100) is { } badLimit)
        {
            return badLimit;
        }
        var size = limit ?? 20;
        var loads = await changes.ListHistoryAsync(size, before, cancellationToken);
        var next = loads.Count == size ? PageLinks.To(request, "/api/history", ("limit", $"{size}"), ("before", $"{loads[^1].RunId}")) : null;
        return TypedResults.Ok(new HistoryPage(loads, next));
    }

    /// <summary>404 for a run that recorded no change, saying why: unknown, not successful, or still running.</summary>
    static async Task<ProblemHttpResult> NoChangeAsync(Guid runId, IEtlStore store, CancellationToken cancellationToken) =>
        await store.GetRunAsync(runId, cancellationToken) is { } run
            ? TypedResults.Problem(statusCode: StatusCodes.Status404NotFound,
                title: "The run recorded no change",
                detail: run.Status == RunStatus.Succeeded
                    ? $"Run {runId} succeeded before this version recorded changes."
                    : $"Run {runId} is {run.Status}: only a successful run loads a data set and records what it changed.",
                type: "https://experiment-etl.dev/problems/no-change")
            : Problems.NotFound("run", runId);

    static ProblemHttpResult Gone(string detail) => TypedResults.Problem(statusCode: StatusCodes.Status410Gone,
        title: "The change list was not kept", detail: detail, type: "https://experiment-etl.dev/problems/change-list-not-kept");
}
