using System.ComponentModel;
using ExperimentEtl.Configuration;
using ExperimentEtl.Model;
using ExperimentEtl.Pipeline;
using ExperimentEtl.Storage;
using Microsoft.AspNetCore.Http.HttpResults;

namespace ExperimentEtl.Endpoints;

/// <summary>ETL runs as a resource: start (from the data folder or an upload), follow, list, inspect rejects, cancel.</summary>
public static class RunEndpoints
{
    public const string Path = "/api/etl/runs";

    public sealed record RunList(IReadOnlyList<RunRecord> Runs, string? Next);

    public sealed record RejectList(Guid RunId, IReadOnlyList<StoredReject> Rejects, string? Next);

    public static IEndpointRouteBuilder MapRunEndpoints(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(Path).WithTags("Runs").RequireSchema();

        group.MapPost("", StartAsync)
            .WithName("StartRun")
            .RequireApiKey()
            .DisableAntiforgery()
            .AddOpenApiOperationTransformer(ApiDocument.DescribeUploadAsync)
            .WithSummary("Starts a run over the data folder (no body) or over three uploaded files")
            .WithDescription("multipart/form-data parts: users, user_experiments, compounds. Answers 202 with Location; with wait=true, " +
                             "200 when the run succeeded or 422 with the errors of invalid input. 409 while another run is in progress.")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem))
            .ProducesProblemOf(StatusCodes.Status409Conflict, typeof(RunConflictProblem))
            .ProducesProblemOf(StatusCodes.Status413PayloadTooLarge, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status415UnsupportedMediaType, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status422UnprocessableEntity, typeof(InvalidInputProblem))
            .ProducesProblemOf(StatusCodes.Status503ServiceUnavailable, typeof(RunFailedProblem))
            .ProducesProblemOf(StatusCodes.Status507InsufficientStorage, typeof(Problem));

        group.MapGet("", ListAsync)
            .WithName("ListRuns")
            .WithSummary("Runs, newest first")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem));

        group.MapGet("/{runId:guid}", GetAsync)
            .WithName("GetRun")
            .WithSummary("One run: status, progress, per-file figures and errors")
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem));

        group.MapGet("/{runId:guid}/rejects", RejectsAsync)
            .WithName("ListRunRejects")
            .WithSummary("The rows a lenient run skipped, with the raw line and the reason")
            .ProducesProblemOf(StatusCodes.Status400BadRequest, typeof(InvalidParametersProblem))
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem));

        group.MapDelete("/{runId:guid}", CancelAsync)
            .WithName("CancelRun")
            .RequireApiKey()
            .WithSummary("Cancels a queued or running run; nothing of it becomes visible")
            .WithDescription("200 with the cancelled run when this server runs it, or with the failed run when the server that ran it " +
                             "has died; 202 when another server runs it and will cancel it within a second or two; 409 when the run has already ended.")
            .ProducesProblemOf(StatusCodes.Status404NotFound, typeof(Problem))
            .ProducesProblemOf(StatusCodes.Status409Conflict, typeof(Problem));

        return app;
    }

    static async Task<Results<Accepted<RunRecord>, Ok<RunRecord>, ProblemHttpResult>> StartAsync(
        HttpRequest request,
        RunManager runs,
        EtlOptions options,
        [Description("strict (default): any error fails the run; lenient: invalid rows are skipped and recorded")] string? mode,
        [Description("true: answer when the run has ended")] bool? wait,
        CancellationToken cancellationToken)
    {
        RunMode runMode;
        switch (mode?.ToLowerInvariant())
        {
            case null or "" or "strict":
                runMode = RunMode.Strict;
                break;
            case "lenient":
                runMode = RunMode.Lenient;
                break;
            default:
                return Problems.InvalidParameter("mode", "is strict (the default) or lenient");
        }

        if (runs.IsBusy && runs.ActiveRunId is { } running)
        {
            return Problems.RunInProgress(running); // Before accepting an upload of up to gigabytes.
        }
        DataSetSource source;
        if (UploadReader.HasBody(request))
        {
            var (upload, problem) = await UploadReader.ReadAsync(request, options.MaxUploadBytes, options.UploadDirectory, cancellationToken);
            if (problem is not null)
            {
                return problem;
            }
            source = upload!;
        }
        else
        {
            source = DataSetSource.FromDirectory(options.DataDirectory);
        }

        RunManager.ActiveRun run;
        try
        {
            run = await runs.StartAsync(source, runMode, cancellationToken);
        }
        catch (RunInProgressException e)
        {
            return Problems.RunInProgress(e.RunningRunId);
        }
        if (wait != true)
        {
            return TypedResults.Accepted($"{Path}/{run.RunId}", run.Run);
        }
        return Problems.FromOutcome(await run.Completion).Result switch
        {
            Ok<RunRecord> ok => ok,
            ProblemHttpResult problem => problem,
            var other => throw new InvalidOperationException($"Unexpected result {other}"),
        };
    }

    static async Task<Results<Ok<RunList>, ProblemHttpResult>> ListAsync(
        HttpRequest request,
        IEtlStore store,
        RunManager runs,
        [Description("runs per page, 1 to 100 (default 20)")] int? limit,
        [Description("the last run id of the previous page")] Guid? before,
        CancellationToken cancellationToken)
    {
        if (Problems.CheckLimit(limit, 100) is { } badLimit)
        {
            return badLimit;
        }
        var size = limit ?? 20;
        var page = await store.ListRunsAsync(size, before, cancellationToken);
        var live = page.Select(run => runs.FindLocal(run.RunId) ?? run).ToList();
        var next = page.Count == size ? PageLinks.To(request, Path, ("limit", $"{size}"), ("before", $"{page[^1].RunId}")) : null;
        return TypedResults.Ok(new RunList(live, next));
    }

    static async Task<Results<Ok<RunRecord>, ProblemHttpResult>> GetAsync(Guid runId, IEtlStore store, RunManager runs, CancellationToken cancellationToken)
    {
        if (runs.FindLocal(runId) is { } local)
        {
            return TypedResults.Ok(local);
        }
        return await store.GetRunAsync(runId, cancellationToken) is { } run ? TypedResults.Ok(run) : Problems.NotFound("run", runId);
    }

    static async Task<Results<Ok<RejectList>, ProblemHttpResult>> RejectsAsync(
        HttpRequest request,
        Guid runId,
        IEtlStore store,
        RunManager runs,
        [Description("rows per page, 1 to 1000 (default 100)")] int? limit,
        [Description("the last seq of the previous page")] long? after,
        CancellationToken cancellationToken)
    {
        if (Problems.CheckLimit(limit, 1000) is { } badLimit)
        {
            return badLimit;
        }
        if (runs.FindActive(runId) is null && await store.GetRunAsync(runId, cancellationToken) is null)
        {
            return Problems.NotFound("run", runId);
        }
        var size = limit ?? 100;
        var page = await store.ListRejectsAsync(runId, size, Math.Max(after ?? 0, 0), cancellationToken);
        var next = page.Count == size ? PageLinks.To(request, $"{Path}/{runId}/rejects", ("limit", $"{size}"), ("after", $"{page[^1].Seq}")) : null;
        return TypedResults.Ok(new RejectList(runId, page, next));
    }

    static async Task<Results<Ok<RunRecord>, Accepted<RunRecord>, ProblemHttpResult>> CancelAsync(
        Guid runId, RunManager runs, IEtlStore store, CancellationToken cancellationToken)
    {
        var local = runs.FindActive(runId) is not null;
        var wasActive = local || (await store.GetRunAsync(runId, cancellationToken))?.IsActive == true;
        var run = await runs.CancelAsync(runId, cancellationToken);
        if (run is null)
        {
            return Problems.NotFound("run", runId);
        }
        if (local)
        {
            if (run.IsActive)
            {
                return TypedResults.Accepted($"{Path}/{runId}", run); // Still committing or rolling back.
            }
            // A run that reached its commit before the request ends as it ended.
            return run.Status == RunStatus.Cancelled ? TypedResults.Ok(run) : Ended(run);
        }
        if (run.IsActive)
        {
            return TypedResults.Accepted($"{Path}/{runId}", run);
        }
        // Ended by this request: its server had died, so it was marked failed at once.
        return wasActive ? TypedResults.Ok(run) : Ended(run);
    }

    static ProblemHttpResult Ended(RunRecord run) => TypedResults.Problem(statusCode: StatusCodes.Status409Conflict,
        title: "The run has already ended",
        detail: $"The run ended as {run.Status}; only a queued or running run can be cancelled.",
        type: "https://experiment-etl.dev/problems/run-ended");
}
