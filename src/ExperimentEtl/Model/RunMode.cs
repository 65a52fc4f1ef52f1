namespace ExperimentEtl.Model;

/// <summary>How a run treats rows that fail validation.</summary>
public enum RunMode
{
    /// <summary>Any error fails the whole run; nothing is loaded.</summary>
    Strict,

    /// <summary>Invalid rows are skipped and recorded; the rest loads. Problems with a whole file still fail the run.</summary>
    Lenient,
}
