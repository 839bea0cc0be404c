namespace Artemis.Benchmarks;

/// <summary>Where the benchmarks write their results: <c>bench/results/</c> of the repository they run from.</summary>
internal static class BenchResults
{
    /// <summary>The heading of a result file's hand-written part, which a rewrite of the figures keeps.</summary>
    public const string AnalysisHeading = "## Analysis";

    /// <summary><c>bench/results/<paramref name="fileName"/></c> under the folder of Artemis.sln above the binaries.</summary>
    public static string PathOf(string fileName)
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Artemis.sln")))
            {
                return Path.Combine(directory.FullName, "bench", "results", fileName);
            }
        }

        throw new InvalidOperationException("Artemis.sln not found: run the benchmarks from inside the repository");
    }

    /// <summary>Writes the figures to the result file, keeping the analysis section of the file it replaces.</summary>
    public static async Task WriteKeepingAnalysisAsync(string fileName, string figures)
    {
        var path = PathOf(fileName);
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var previous = File.Exists(path) ? await File.ReadAllTextAsync(path) : "";
        var at = previous.IndexOf(AnalysisHeading, StringComparison.Ordinal);
        await File.WriteAllTextAsync(path, figures + (at < 0 ? "" : Environment.NewLine + previous[at..]));
    }
}
