using Npgsql;

namespace ExperimentEtl.Storage.Citus;

/// <summary>
/// A worker's failure reaches us with the worker's own message (at its shutdown: "57P01: terminating connection due to
/// administrator command"); Citus names the worker only in the error's context ("while executing command on
/// host:port"). The run's message, and so the problem answer, should name it.
/// </summary>
static partial class CitusNodeErrors
{
    public static Exception NamingTheNode(Exception e)
    {
        var failure = e as PostgresException ?? e.InnerException as PostgresException;
        if (failure is null)
        {
            return e;
        }
        var node = NodeInContext().Match($"{failure.Where}\n{failure.Detail}");
        return node.Success && !failure.MessageText.Contains(node.Groups[1].Value, StringComparison.Ordinal)
            ? new NpgsqlException($"{failure.SqlState}: {failure.MessageText} (on the node {node.Groups[1].Value})", e)
            : e;
    }

    [System.Text.RegularExpressions.GeneratedRegex(@"on ([^\s:]+:[0-9]+)")]
    private static partial System.Text.RegularExpressions.Regex NodeInContext();
}

/// <summary>A table writer whose failures name the node that failed.</summary>
sealed class NodeNamingWriter<TRow>(IRowWriter<TRow> inner) : IRowWriter<TRow>
{
    public void Write(in TRow row)
    {
        try
        {
            inner.Write(row);
        }
        catch (NpgsqlException e) when (CitusNodeErrors.NamingTheNode(e) is var named && named != e)
        {
            throw named;
        }
    }

    public void Complete()
    {
        try
        {
            inner.Complete();
        }
        catch (NpgsqlException e) when (CitusNodeErrors.NamingTheNode(e) is var named && named != e)
        {
            throw named;
        }
    }

    public void Dispose() => inner.Dispose();
}
