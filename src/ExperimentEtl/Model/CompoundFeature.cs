namespace ExperimentEtl.Model;

/// <summary>How much a compound was used: experiments that listed it, and distinct users who ran those.</summary>
public readonly record struct CompoundFeature(int CompoundId, long Experiments, int Users);
