namespace Artemis.AppHost.Tests;

internal static class RepositoryPaths
{
    /// <summary>The repository root: the folder holding Artemis.sln, above the test's output folder.</summary>
    public static string Root { get; } = FindRoot();

    public static string AppHostProject => Path.Combine(Root, "Artemis.AppHost", "Artemis.AppHost.csproj");

    private static string FindRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "Artemis.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"Artemis.sln not found above {AppContext.BaseDirectory}");
    }
}
