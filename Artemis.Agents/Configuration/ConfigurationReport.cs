using System.Text;

namespace Artemis.Agents.Configuration;

/// <summary>One problem with one setting, named by its full colon path. Messages never carry a secret's value.</summary>
public sealed record ConfigurationIssue(string Key, string Message)
{
    public override string ToString() => $"{Key}: {Message}";
}

/// <summary>Everything wrong with a configuration, found in one pass: the service starts only when it is empty.</summary>
public sealed record ConfigurationReport(IReadOnlyList<ConfigurationIssue> Errors, IReadOnlyList<ConfigurationIssue> Warnings)
{
    public bool IsValid => Errors.Count == 0;

    public string Format()
    {
        var text = new StringBuilder();
        text.AppendLine(IsValid
            ? "Configuration is valid."
            : $"Configuration is invalid: {Errors.Count} error{(Errors.Count == 1 ? "" : "s")}.");
        foreach (var error in Errors)
        {
            text.Append("  error   ").AppendLine(error.ToString());
        }

        foreach (var warning in Warnings)
        {
            text.Append("  warning ").AppendLine(warning.ToString());
        }

        return text.ToString();
    }
}

/// <summary>Collects issues while the rules run.</summary>
public sealed class ConfigurationReportBuilder
{
    private readonly List<ConfigurationIssue> _errors = [];
    private readonly List<ConfigurationIssue> _warnings = [];

    public void Error(string key, string message) => _errors.Add(new(key, message));

    public void Warning(string key, string message) => _warnings.Add(new(key, message));

    public bool HasErrorFor(string keyPrefix) =>
        _errors.Any(error => error.Key.StartsWith(keyPrefix, StringComparison.OrdinalIgnoreCase));

    public ConfigurationReport Build() => new(_errors.ToList(), _warnings.ToList());
}

/// <summary>The service refuses to start: the message is the whole report.</summary>
public sealed class InvalidConfigurationException(ConfigurationReport report) : Exception(report.Format())
{
    public ConfigurationReport Report { get; } = report;
}
