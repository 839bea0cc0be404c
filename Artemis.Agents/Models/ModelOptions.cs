using System.Data.Common;
using Artemis.ServiceDefaults;

namespace Artemis.Agents.Models;

/// <summary>
/// Where the model is: <c>ConnectionStrings:model</c> (<c>Endpoint=https://…/v1;Key=…;Model=…[;RealtimeModel=…]</c>),
/// each part overridden by <c>Artemis:Model:{Endpoint,ApiKey,Name,RealtimeName}</c>.
/// </summary>
public sealed record ModelOptions(Uri? Endpoint, string? ApiKey, string? Name, string? RealtimeName)
{
    public const string SectionName = "Artemis:Model";

    /// <summary>Output tokens allowed to a call that does not set its own limit: the worst case must be bounded.</summary>
    public int MaxOutputTokens { get; init; } = 4096;

    /// <summary>Retries of a failed HTTP attempt (429, 5xx, timeouts), with exponential backoff, jitter and Retry-After.</summary>
    public int MaxRetries { get; init; } = 3;

    public int AttemptTimeoutSeconds { get; init; } = 120;

    public int TotalTimeoutSeconds { get; init; } = 300;

    public static readonly string[] Keys =
        ["Endpoint", "ApiKey", "Name", "RealtimeName", nameof(MaxOutputTokens), nameof(MaxRetries), nameof(AttemptTimeoutSeconds), nameof(TotalTimeoutSeconds)];

    /// <summary>The connection string's keys, matched without regard to case.</summary>
    public static readonly string[] ConnectionStringKeys = ["Endpoint", "Key", "Model", "RealtimeModel"];

    public static ModelOptions From(IConfiguration configuration)
    {
        var parts = ParseConnectionString(configuration.GetConnectionString(ResourceNames.Model));
        var section = configuration.GetSection(SectionName);
        var endpoint = section["Endpoint"] ?? parts.GetValueOrDefault("Endpoint");
        var defaults = new ModelOptions(null, null, null, null);
        return new ModelOptions(
            Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : null,
            section["ApiKey"] ?? parts.GetValueOrDefault("Key"),
            section["Name"] ?? parts.GetValueOrDefault("Model"),
            section["RealtimeName"] ?? parts.GetValueOrDefault("RealtimeModel"))
        {
            MaxOutputTokens = IntOr(section[nameof(MaxOutputTokens)], defaults.MaxOutputTokens),
            MaxRetries = IntOr(section[nameof(MaxRetries)], defaults.MaxRetries),
            AttemptTimeoutSeconds = IntOr(section[nameof(AttemptTimeoutSeconds)], defaults.AttemptTimeoutSeconds),
            TotalTimeoutSeconds = IntOr(section[nameof(TotalTimeoutSeconds)], defaults.TotalTimeoutSeconds),
        };
    }

    /// <summary>Parses <c>key=value;…</c>; throws <see cref="FormatException"/> naming what is wrong.</summary>
    public static Dictionary<string, string> ParseConnectionString(string? connectionString)
    {
        var parts = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (string.IsNullOrWhiteSpace(connectionString))
        {
            return parts;
        }

        DbConnectionStringBuilder builder;
        try
        {
            builder = new DbConnectionStringBuilder { ConnectionString = connectionString };
        }
        catch (ArgumentException exception)
        {
            throw new FormatException($"not a 'key=value;…' connection string: {exception.Message}", exception);
        }

        foreach (string key in builder.Keys)
        {
            var known = ConnectionStringKeys.FirstOrDefault(k => string.Equals(k, key, StringComparison.OrdinalIgnoreCase))
                ?? throw new FormatException($"unknown key '{AsTyped(connectionString, key)}' (expected {string.Join(", ", ConnectionStringKeys)})");
            parts[known] = builder[key]?.ToString() ?? "";
        }

        return parts;
    }

    /// <summary>A malformed number is the validator's to report; here it falls back to the default.</summary>
    private static int IntOr(string? text, int fallback) =>
        int.TryParse(text, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var value) ? value : fallback;

    /// <summary>The builder lower-cases keys; a message should show the key as the user wrote it.</summary>
    private static string AsTyped(string connectionString, string key) =>
        connectionString.Split(';').Select(part => part.Split('=', 2)[0].Trim())
            .FirstOrDefault(typed => typed.Equals(key, StringComparison.OrdinalIgnoreCase)) ?? key;
}
