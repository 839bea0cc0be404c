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

    public static readonly string[] Keys = ["Endpoint", "ApiKey", "Name", "RealtimeName"];

    /// <summary>The connection string's keys, matched without regard to case.</summary>
    public static readonly string[] ConnectionStringKeys = ["Endpoint", "Key", "Model", "RealtimeModel"];

    public static ModelOptions From(IConfiguration configuration)
    {
        var parts = ParseConnectionString(configuration.GetConnectionString(ResourceNames.Model));
        var section = configuration.GetSection(SectionName);
        var endpoint = section["Endpoint"] ?? parts.GetValueOrDefault("Endpoint");
        return new ModelOptions(
            Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) ? uri : null,
            section["ApiKey"] ?? parts.GetValueOrDefault("Key"),
            section["Name"] ?? parts.GetValueOrDefault("Model"),
            section["RealtimeName"] ?? parts.GetValueOrDefault("RealtimeModel"));
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

    /// <summary>The builder lower-cases keys; a message should show the key as the user wrote it.</summary>
    private static string AsTyped(string connectionString, string key) =>
        connectionString.Split(';').Select(part => part.Split('=', 2)[0].Trim())
            .FirstOrDefault(typed => typed.Equals(key, StringComparison.OrdinalIgnoreCase)) ?? key;
}
