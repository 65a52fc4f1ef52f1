using System.Collections.Concurrent;
using System.Runtime.ExceptionServices;
using ExperimentEtl.Storage;

namespace ExperimentEtl.Pipeline;

/// <summary>
/// Hands rows to the database writer on a second thread, in batches through a bounded queue, so that parsing and
/// validating (one core) overlap with encoding and sending rows (the other core).
/// </summary>
/// <remarks>
/// Only the consumer thread touches the inner writer (and so the connection) until <see cref="Complete"/> or
/// <see cref="Dispose"/> has joined it. A failure of the inner writer surfaces on the producer's next call.
/// </remarks>
sealed class BackgroundRowWriter<TRow> : IRowWriter<TRow>
{
    const int BatchSize = 2048;
    const int QueuedBatches = 8;

    readonly IRowWriter<TRow> _inner;
    readonly Func<TRow, TRow> _own;
    readonly BlockingCollection<(TRow[] Rows, int Count)> _queue = new(QueuedBatches);
    readonly Task _consumer;
    TRow[] _batch = new TRow[BatchSize];
    int _count;
    bool _joined;

    /// <param name="own">Copies whatever of a row its reader will reuse (e.g. a buffer), so the row outlives the read.</param>
    public BackgroundRowWriter(IRowWriter<TRow> inner, Func<TRow, TRow> own)
    {
        _inner = inner;
        _own = own;
        _consumer = Task.Factory.StartNew(Consume, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    void Consume()
    {
        try
        {
            foreach (var (rows, count) in _queue.GetConsumingEnumerable())
            {
                for (var i = 0; i < count; i++)
                {
                    _inner.Write(rows[i]);
                }
            }
        }
        finally
        {
            // A failed consumer stops the producer at its next hand-over instead of leaving it blocked on a full queue.
            _queue.CompleteAdding();
        }
    }

    public void Write(in TRow row)
    {
        _batch[_count++] = _own(row);
        if (_count == BatchSize)
        {
            HandOver();
        }
    }

    void HandOver()
    {
        try
        {
            _queue.Add((_batch, _count));
        }
        catch (InvalidOperationException) when (_queue.IsAddingCompleted)
        {
            // The consumer failed (and closed the queue): surface its exception, not the queue's.
            Join();
            throw;
        }
        _batch = new TRow[BatchSize];
        _count = 0;
    }

    /// <summary>Waits for the consumer; rethrows its failure as it was thrown.</summary>
    void Join()
    {
        _joined = true;
        try
        {
            _consumer.Wait();
        }
        catch (AggregateException e) when (e.InnerExceptions.Count == 1)
        {
            ExceptionDispatchInfo.Throw(e.InnerExceptions[0]);
        }
    }

    public void Complete()
    {
        if (_count > 0)
        {
            HandOver();
        }
        _queue.CompleteAdding();
        Join();
        _inner.Complete();
    }

    public void Dispose()
    {
        if (!_joined)
        {
            _queue.CompleteAdding();
            try
            {
                Join();
            }
            catch (Exception)
            {
                // Disposing after a failure: the failure itself has already been reported to the caller.
            }
        }
        _inner.Dispose();
        _queue.Dispose();
    }
}
