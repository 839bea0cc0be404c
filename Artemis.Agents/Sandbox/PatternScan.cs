using System.Text.RegularExpressions;

namespace Artemis.Agents.Sandbox;

/// <summary>
/// Warnings about code that looks hostile or careless. Never a defence: isolation and limits are; a regex "sandbox"
/// is what the Python original had. The warnings go back to the model and the log.
/// </summary>
public static partial class PatternScan
{
    public static IReadOnlyList<string> Warnings(string code)
    {
        var warnings = new List<string>();
        if (ForkBomb().IsMatch(code))
        {
            warnings.Add("looks like a fork bomb: the process limit will stop it");
        }

        if (RemoveRoot().IsMatch(code))
        {
            warnings.Add("removes files from the file system root: only the workspace is writable");
        }

        if (Network().IsMatch(code))
        {
            warnings.Add("uses the network: the sandbox has none");
        }

        return warnings;
    }

    [GeneratedRegex(@":\s*\(\s*\)\s*\{\s*:\s*\|\s*:\s*&\s*\}|os\.fork\(\)\s*.*while|while\s+True:\s*\n\s*os\.fork", RegexOptions.CultureInvariant)]
    private static partial Regex ForkBomb();

    [GeneratedRegex(@"rm\s+-[a-zA-Z]*r[a-zA-Z]*f?\s+/(\s|$|\*)", RegexOptions.CultureInvariant)]
    private static partial Regex RemoveRoot();

    [GeneratedRegex(@"\b(curl|wget|nc|ncat)\s|socket\.socket|urllib|requests\.(get|post)", RegexOptions.CultureInvariant)]
    private static partial Regex Network();
}
