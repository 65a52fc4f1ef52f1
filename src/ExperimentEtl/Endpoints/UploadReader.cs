using ExperimentEtl.Csv;
using ExperimentEtl.Pipeline;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Net.Http.Headers;

namespace ExperimentEtl.Endpoints;

/// <summary>
/// Streams a <c>multipart/form-data</c> upload of the three files to a temporary folder, never holding a file in memory.
/// </summary>
public static class UploadReader
{
    /// <summary>The form parts a run upload has, and the file each becomes.</summary>
    public static readonly IReadOnlyDictionary<string, string> Parts = new Dictionary<string, string>
    {
        ["users"] = CsvSchema.Users.FileName,
        ["user_experiments"] = CsvSchema.Experiments.FileName,
        ["compounds"] = CsvSchema.Compounds.FileName,
    };

    /// <summary>True when the request carries a body to read as an upload.</summary>
    public static bool HasBody(HttpRequest request) =>
        request.ContentLength > 0 || request.Headers.TransferEncoding.Count > 0 || !string.IsNullOrEmpty(request.ContentType);

    /// <summary>Reads the upload into a new temporary folder: a source that deletes the folder, or the problem to answer.</summary>
    public static async Task<(DataSetSource? Source, ProblemHttpResult? Problem)> ReadAsync(
        HttpRequest request, long maxBytes, string uploadRoot, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var contentType) ||
            !contentType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase) ||
            HeaderUtilities.RemoveQuotes(contentType.Boundary).Value is not { Length: > 0 } boundary)
        {
            return (null, TypedResults.Problem(
                statusCode: StatusCodes.Status415UnsupportedMediaType,
                title: "Send the files as multipart/form-data",
                detail: "Upload users, user_experiments and compounds as parts of a multipart/form-data body (curl -F users=@users.csv ...), or send no body to use the data folder.",
                type: "https://experiment-etl.dev/problems/unsupported-media-type"));
        }
        if (request.ContentLength > maxBytes)
        {
            return (null, TooLarge(maxBytes));
        }
        // Kestrel's default body limit (30 MB) is for forms; uploads are bounded by the configured limit instead.
        if (request.HttpContext.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
        {
            limit.MaxRequestBodySize = maxBytes + 1024 * 1024; // Room for the multipart framing.
        }

        var source = DataSetSource.CreateUploadDirectory(uploadRoot);
        try
        {
            var problem = await CopyPartsAsync(new MultipartReader(boundary, request.Body), source.FolderPath, maxBytes, cancellationToken);
            if (problem is not null)
            {
                source.Dispose();
                return (null, problem);
            }
            return (source, null);
        }
        // Only the client's side can fail here: what the disk refuses (a full disk: 507) goes on to ProblemExceptionHandler,
        // whose answer names no server path.
        catch (Exception e) when (e is BadHttpRequestException or InvalidDataException)
        {
            source.Dispose();
            return (null, e is BadHttpRequestException { StatusCode: StatusCodes.Status413PayloadTooLarge } ? TooLarge(maxBytes) : BadRequest($"The upload could not be read: {e.Message}"));
        }
        catch
        {
            source.Dispose();
            throw;
        }
    }

    static async Task<ProblemHttpResult?> CopyPartsAsync(MultipartReader reader, string directory, long maxBytes, CancellationToken cancellationToken)
    {
        var received = new HashSet<string>();
        long total = 0;
        var buffer = new byte[81920];
        while (await FromClientAsync(() => reader.ReadNextSectionAsync(cancellationToken)) is { } section)
        {
            if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition) ||
                HeaderUtilities.RemoveQuotes(disposition.Name).Value is not { } name || !Parts.TryGetValue(name, out var fileName))
            {
                return BadRequest($"Unexpected form part; the parts are {string.Join(", ", Parts.Keys)}.");
            }
            if (!received.Add(name))
            {
                return BadRequest($"The part '{name}' was sent twice.");
            }
            await using var file = new FileStream(Path.Combine(directory, fileName), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.Asynchronous);
            int read;
            while ((read = await FromClientAsync(() => section.Body.ReadAsync(buffer, cancellationToken).AsTask())) > 0)
            {
                total += read;
                if (total > maxBytes)
                {
                    return TooLarge(maxBytes);
                }
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken);
            }
        }
        var missing = Parts.Keys.Where(part => !received.Contains(part)).ToList();
        return missing.Count > 0
            ? BadRequest($"The upload lacks the part{(missing.Count > 1 ? "s" : "")} {string.Join(", ", missing)}; send all three: users, user_experiments, compounds.")
            : null;
    }

    /// <summary>Reads from the request: a broken connection is the client's problem (400), unlike a failure to store the file.</summary>
    static async Task<T> FromClientAsync<T>(Func<Task<T>> read)
    {
        try
        {
            return await read();
        }
        catch (IOException e) when (e is not BadHttpRequestException)
        {
            throw new BadHttpRequestException("the connection failed before the end of the upload", e);
        }
    }

    static ProblemHttpResult TooLarge(long maxBytes) => TypedResults.Problem(
        statusCode: StatusCodes.Status413PayloadTooLarge,
        title: "The upload is too large",
        detail: $"The three files may take {maxBytes} bytes in all (ETL_MAX_UPLOAD_BYTES).",
        type: "https://experiment-etl.dev/problems/upload-too-large");

    static ProblemHttpResult BadRequest(string detail) => TypedResults.Problem(
        statusCode: StatusCodes.Status400BadRequest,
        title: "The upload is not complete",
        detail: detail,
        type: "https://experiment-etl.dev/problems/bad-upload");
}
