namespace ExperimentEtl.Storage;

/// <summary>Bulk writer for one table. <see cref="Complete"/> must be called before the next table is opened.</summary>
public interface IRowWriter<TRow> : IDisposable
{
    void Write(in TRow row);

    void Complete();
}
