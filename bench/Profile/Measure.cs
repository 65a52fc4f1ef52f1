using System.Diagnostics;
using System.Globalization;

namespace ExperimentEtl.Bench.Profile;

/// <summary>Times a stage a few times in this process and prints one line per repetition.</summary>
static class Measure
{
    static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static void Header() =>
        Console.WriteLine(string.Format(Inv, "{0,-28} {1,3} {2,9} {3,7} {4,12} {5,10} {6,14} {7,10}  {8}",
            "stage", "rep", "seconds", "cpu s", "rows/s", "alloc MB", "gen0/1/2", "peak WS MB", "result"));

    /// <summary>Runs <paramref name="body"/> <paramref name="repeat"/> times; the first run is cold (tier-0 JIT), later ones warm.</summary>
    public static void Run(string stage, int repeat, long rows, Func<string> body)
    {
        for (var rep = 1; rep <= repeat; rep++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
            GC.Collect();
            var allocated = GC.GetTotalAllocatedBytes(precise: true);
            int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
            // CPU time beside wall time: on a shared machine the other tenants stretch the second more than the first.
            var cpu = Environment.CpuUsage.TotalTime;
            var stopwatch = Stopwatch.StartNew();
            var result = body();
            stopwatch.Stop();
            allocated = GC.GetTotalAllocatedBytes(precise: true) - allocated;
            using var process = Process.GetCurrentProcess();
            Console.WriteLine(string.Format(Inv, "{0,-28} {1,3} {2,9:F3} {3,7:F2} {4,12:N0} {5,10:F1} {6,14} {7,10:N0}  {8}",
                stage, rep, stopwatch.Elapsed.TotalSeconds, (Environment.CpuUsage.TotalTime - cpu).TotalSeconds,
                rows / stopwatch.Elapsed.TotalSeconds, allocated / 1e6,
                $"{GC.CollectionCount(0) - gen0}/{GC.CollectionCount(1) - gen1}/{GC.CollectionCount(2) - gen2}",
                process.PeakWorkingSet64 / 1e6, result));
        }
    }

    /// <summary>Bytes still reachable after a full collection: what a structure retains.</summary>
    public static long LiveBytes()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    public static string Format(FormattableString text) => text.ToString(Inv);
}

/// <summary>Splits a stage into named steps and prints them on one line.</summary>
sealed class Steps
{
    readonly List<(string Name, double Seconds)> _steps = [];
    readonly Stopwatch _stopwatch = Stopwatch.StartNew();

    public void Mark(string name)
    {
        _steps.Add((name, _stopwatch.Elapsed.TotalSeconds));
        _stopwatch.Restart();
    }

    public override string ToString() =>
        string.Join(" ", _steps.Select(s => string.Create(CultureInfo.InvariantCulture, $"{s.Name}={s.Seconds:F2}")));
}
