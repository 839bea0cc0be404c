using System.Globalization;
using System.Reflection;
using Artemis.Agents.Api;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Sandbox;
using Artemis.Agents.Voice;
using Artemis.Agents.Supervision;
using Artemis.ServiceDefaults;
using Npgsql;

namespace Artemis.Agents.Configuration;

/// <summary>
/// Checks every <c>Artemis:*</c> setting and the connection strings in one pass and reports each problem by its key:
/// wrong types, out-of-range and inconsistent values, unknown keys (typos), unpriced models, unusable folders and
/// malformed connection strings. Reaching the servers is <see cref="ConfigurationProbes"/>'s job.
/// </summary>
public static class ConfigurationValidator
{
    public static ConfigurationReport Validate(IConfiguration configuration)
    {
        var report = new ConfigurationReportBuilder();
        CheckUnknownKeys(configuration, report);
        CheckApi(configuration, report);
        var catalog = CheckPricing(configuration, report);
        CheckModel(configuration, catalog, report);
        CheckBudget(configuration, report);
        CheckWorkspace(configuration, report);
        CheckSandbox(configuration, report);
        CheckAgents(configuration, report);
        CheckPersistence(configuration, report);
        CheckMessaging(configuration, report);
        CheckVoice(configuration, catalog, report);
        CheckConnectionStrings(configuration, report);
        return report.Build();
    }

    private static void CheckUnknownKeys(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        foreach (var section in configuration.GetSection(KnownKeys.Root).GetChildren())
        {
            var path = $"{KnownKeys.Root}:{section.Key}";
            if (KnownKeys.Values.Contains(section.Key, StringComparer.OrdinalIgnoreCase) && !section.GetChildren().Any())
            {
                Boolean(configuration, path, report);
                continue;
            }

            if (!KnownKeys.Sections.TryGetValue(section.Key, out var keys))
            {
                report.Error(path, Unknown(section.Key, KnownKeys.Sections.Keys.Concat(KnownKeys.Values), "section"));
                continue;
            }

            if (section.Key.Equals("Pricing", StringComparison.OrdinalIgnoreCase))
            {
                foreach (var model in section.GetChildren())
                {
                    CheckLeaves(model, ModelPrice.Keys, $"{path}:{model.Key}", report);
                }
            }
            else
            {
                CheckLeaves(section, keys, path, report);
            }
        }
    }

    private static void CheckLeaves(IConfigurationSection section, string[] keys, string path, ConfigurationReportBuilder report)
    {
        if (section.Value is not null && !section.GetChildren().Any())
        {
            report.Error(path, "must be a section of settings, not a single value");
            return;
        }

        foreach (var child in section.GetChildren())
        {
            if (!keys.Contains(child.Key, StringComparer.OrdinalIgnoreCase))
            {
                report.Error($"{path}:{child.Key}", Unknown(child.Key, keys, "setting"));
            }
            else if (child.GetChildren().Any())
            {
                report.Error($"{path}:{child.Key}", "must be a single value, not a section");
            }
        }
    }

    private static string Unknown(string key, IEnumerable<string> candidates, string what) =>
        KnownKeys.Suggest(key, candidates) is { } suggestion
            ? $"unknown {what} (a typo? did you mean '{suggestion}'?)"
            : $"unknown {what}; known: {string.Join(", ", candidates)}";

    private static void CheckApi(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        const string key = ApiOptions.SectionName + ":Key";
        var value = configuration[key];
        if (string.IsNullOrEmpty(value))
        {
            report.Error(key, "is required: the key clients send in the X-Api-Key header (the AppHost's 'agents-api-key' parameter)");
        }
        else if (value.Length < ApiOptions.MinimumKeyLength)
        {
            report.Error(key, $"must have at least {ApiOptions.MinimumKeyLength} characters, has {value.Length}");
        }
        else if (value.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            report.Error(key, "must not contain spaces or control characters");
        }
    }

    private static PriceCatalog? CheckPricing(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        var builtIn = PriceCatalog.BuiltIn();
        foreach (var model in configuration.GetSection(PriceCatalog.SectionName).GetChildren())
        {
            var path = $"{PriceCatalog.SectionName}:{model.Key}";
            var known = builtIn.ContainsKey(model.Key);
            var values = new Dictionary<string, decimal>();
            foreach (var key in ModelPrice.Keys)
            {
                if (model[key] is not { } text)
                {
                    if (!known && key is nameof(ModelPrice.InputUsdPer1M) or nameof(ModelPrice.OutputUsdPer1M))
                    {
                        report.Error($"{path}:{key}", $"is required for a model that has no built-in price");
                    }

                    continue;
                }

                if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
                {
                    report.Error($"{path}:{key}", $"must be a number of USD per 1M tokens, was '{text}'");
                }
                else if (value < 0)
                {
                    report.Error($"{path}:{key}", $"must be >= 0, was {text}");
                }
                else
                {
                    values[key] = value;
                }
            }

            var input = values.TryGetValue(nameof(ModelPrice.InputUsdPer1M), out var configuredInput)
                ? configuredInput
                : builtIn.GetValueOrDefault(model.Key)?.InputUsdPer1M;
            if (values.TryGetValue(nameof(ModelPrice.CachedInputUsdPer1M), out var cached) && input is not null && cached > input)
            {
                report.Error($"{path}:{nameof(ModelPrice.CachedInputUsdPer1M)}", $"must not exceed InputUsdPer1M ({input}), was {cached}");
            }
        }

        return report.HasErrorFor(PriceCatalog.SectionName) ? null : PriceCatalog.Load(configuration);
    }

    private static void CheckModel(IConfiguration configuration, PriceCatalog? catalog, ConfigurationReportBuilder report)
    {
        const string connectionKey = "ConnectionStrings:" + ResourceNames.Model;
        try
        {
            ModelOptions.ParseConnectionString(configuration.GetConnectionString(ResourceNames.Model));
        }
        catch (FormatException exception)
        {
            report.Error(connectionKey, exception.Message);
            return;
        }

        var model = ModelOptions.From(configuration);
        var endpointText = configuration[$"{ModelOptions.SectionName}:Endpoint"]
            ?? ModelOptions.ParseConnectionString(configuration.GetConnectionString(ResourceNames.Model)).GetValueOrDefault("Endpoint");
        if (string.IsNullOrWhiteSpace(endpointText))
        {
            report.Error($"{ModelOptions.SectionName}:Endpoint",
                $"is required: set it, or Endpoint=… in {connectionKey} (any OpenAI-compatible endpoint, e.g. https://api.openai.com/v1)");
        }
        else if (model.Endpoint is not { } endpoint || endpoint.Scheme is not ("http" or "https"))
        {
            report.Error($"{ModelOptions.SectionName}:Endpoint", $"must be an absolute http(s) URL, was '{endpointText}'");
        }
        else if (endpoint.Scheme == "http" && !endpoint.IsLoopback)
        {
            report.Warning($"{ModelOptions.SectionName}:Endpoint", "sends the API key unencrypted (http) to a host other than this machine");
        }

        if (model.ApiKey is { } apiKey && (apiKey.Length == 0 || apiKey.Any(c => char.IsWhiteSpace(c) || char.IsControl(c))))
        {
            report.Error($"{ModelOptions.SectionName}:ApiKey", "is malformed: empty, or contains spaces or control characters (a pasted line break?)");
        }

        if (string.IsNullOrWhiteSpace(model.Name))
        {
            report.Error($"{ModelOptions.SectionName}:Name", $"is required: the chat model to use (or Model=… in {connectionKey})");
        }
        else if (catalog is not null && !catalog.TryGetPrice(model.Name, out _))
        {
            report.Error($"{ModelOptions.SectionName}:Name",
                $"'{model.Name}' has no price: add {PriceCatalog.SectionName}:{model.Name}:InputUsdPer1M and OutputUsdPer1M (Artemis never calls an unpriced model)");
        }

        IntInRange(configuration, $"{ModelOptions.SectionName}:{nameof(ModelOptions.MaxOutputTokens)}", 1, 1_000_000, report);
        IntInRange(configuration, $"{ModelOptions.SectionName}:{nameof(ModelOptions.MaxRetries)}", 0, 10, report);
        IntInRange(configuration, $"{ModelOptions.SectionName}:{nameof(ModelOptions.AttemptTimeoutSeconds)}", 1, 3600, report);
        IntInRange(configuration, $"{ModelOptions.SectionName}:{nameof(ModelOptions.TotalTimeoutSeconds)}", 1, 36_000, report);
        var totalKey = $"{ModelOptions.SectionName}:{nameof(ModelOptions.TotalTimeoutSeconds)}";
        if (!report.HasErrorFor(totalKey) && !report.HasErrorFor($"{ModelOptions.SectionName}:{nameof(ModelOptions.AttemptTimeoutSeconds)}")
            && model.AttemptTimeoutSeconds > model.TotalTimeoutSeconds)
        {
            report.Error(totalKey, $"must be at least AttemptTimeoutSeconds ({model.AttemptTimeoutSeconds}), was {model.TotalTimeoutSeconds}");
        }

        if (!string.IsNullOrWhiteSpace(model.RealtimeName) && catalog is not null)
        {
            if (!catalog.TryGetPrice(model.RealtimeName, out var price))
            {
                report.Error($"{ModelOptions.SectionName}:RealtimeName", $"'{model.RealtimeName}' has no price: add {PriceCatalog.SectionName}:{model.RealtimeName}");
            }
            else if (price.AudioInputUsdPer1M is null || price.AudioOutputUsdPer1M is null)
            {
                report.Error($"{ModelOptions.SectionName}:RealtimeName", $"'{model.RealtimeName}' has no audio prices: add AudioInputUsdPer1M and AudioOutputUsdPer1M under {PriceCatalog.SectionName}:{model.RealtimeName}");
            }
        }
    }

    private static void CheckBudget(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        var defaults = new BudgetOptions();
        var section = BudgetOptions.SectionName;
        var daily = Budget(configuration, $"{section}:{nameof(BudgetOptions.DailyUsd)}", defaults.DailyUsd, report);
        var monthly = Budget(configuration, $"{section}:{nameof(BudgetOptions.MonthlyUsd)}", defaults.MonthlyUsd, report);
        var perCard = Budget(configuration, $"{section}:{nameof(BudgetOptions.PerCardUsd)}", defaults.PerCardUsd, report);
        if (daily is { } d && monthly is { } m && d > m)
        {
            report.Error($"{section}:{nameof(BudgetOptions.DailyUsd)}", $"must not exceed MonthlyUsd ({m}), was {d}");
        }

        if (perCard is { } c && daily is { } day && c > day)
        {
            report.Error($"{section}:{nameof(BudgetOptions.PerCardUsd)}", $"must not exceed DailyUsd ({day}), was {c}");
        }

        var leaseKey = $"{section}:{nameof(BudgetOptions.LeaseUsd)}";
        if (configuration[leaseKey] is { } leaseText)
        {
            if (!decimal.TryParse(leaseText, NumberStyles.Float, CultureInfo.InvariantCulture, out var lease))
            {
                report.Error(leaseKey, $"must be a number, was '{leaseText}'");
            }
            else if (lease < 0)
            {
                report.Error(leaseKey, $"must be >= 0 (0 leases exactly what each call lacks), was {leaseText}");
            }
            else if (perCard is { } cardLimit && lease > cardLimit)
            {
                report.Error(leaseKey, $"must not exceed PerCardUsd ({cardLimit}), was {leaseText}");
            }
        }

        var thresholdKey = $"{section}:{nameof(BudgetOptions.AlertThreshold)}";
        if (configuration[thresholdKey] is { } text)
        {
            if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var threshold) || double.IsNaN(threshold))
            {
                report.Error(thresholdKey, $"must be a number in (0, 1], was '{text}'");
            }
            else if (threshold is <= 0 or > 1)
            {
                report.Error(thresholdKey, $"must be in (0, 1], was {text}");
            }
        }

        var zoneKey = $"{section}:{nameof(BudgetOptions.TimeZone)}";
        if (configuration[zoneKey] is { Length: > 0 } zone)
        {
            try
            {
                TimeZoneInfo.FindSystemTimeZoneById(zone);
            }
            catch (Exception exception) when (exception is TimeZoneNotFoundException or InvalidTimeZoneException)
            {
                report.Error(zoneKey, $"'{zone}' is not a known time zone (use an IANA id such as Europe/Paris, or leave empty for UTC)");
            }
        }
    }

    private static void CheckWorkspace(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        var rootKey = $"{WorkspaceOptions.SectionName}:{nameof(WorkspaceOptions.Root)}";
        var root = configuration[rootKey];
        if (string.IsNullOrWhiteSpace(root))
        {
            report.Error(rootKey, "is required: the folder under which agents' workspaces are made");
        }
        else if (!Path.IsPathFullyQualified(root))
        {
            report.Error(rootKey, $"must be an absolute path, was '{root}'");
        }
        else if (!Directory.Exists(root))
        {
            report.Error(rootKey, $"'{root}' does not exist or is not a folder");
        }
        else if (!IsWritable(root, out var reason))
        {
            report.Error(rootKey, $"'{root}' is not writable: {reason}");
        }

        PositiveLong(configuration, $"{WorkspaceOptions.SectionName}:{nameof(WorkspaceOptions.MaxFileBytes)}", report);
    }

    private static bool IsWritable(string folder, out string reason)
    {
        var probe = Path.Combine(folder, $".artemis-write-check-{Guid.NewGuid():N}");
        try
        {
            using (File.Create(probe, 1, FileOptions.DeleteOnClose))
            {
            }

            reason = "";
            return true;
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            reason = exception.Message;
            return false;
        }
    }

    private static void CheckSandbox(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        foreach (var property in typeof(SandboxOptions).GetProperties().Where(property => property.PropertyType == typeof(int)))
        {
            PositiveInt(configuration, $"{SandboxOptions.SectionName}:{property.Name}", int.MaxValue, report);
        }

        Boolean(configuration, $"{SandboxOptions.SectionName}:{nameof(SandboxOptions.AllowUnisolated)}", report);
    }

    private static void CheckAgents(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        PositiveInt(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.ParallelDevelopers)}", 16, report);
        PositiveInt(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.MaxTurns)}", 1000, report);
        Boolean(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.Supervise)}", report);
        PositiveInt(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.MaxConcurrentCards)}", 64, report);
        IntInRange(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.LeaseSeconds)}", 3, 3600, report);
        IntInRange(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.PollMilliseconds)}", 10, 60_000, report);
        IntInRange(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.AttemptTimeoutSeconds)}", 5, 86_400, report);
        NonNegativeInt(configuration, $"{AgentsOptions.SectionName}:{nameof(AgentsOptions.AttemptRetries)}", 10, report);
    }

    private static void CheckPersistence(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        NonNegativeInt(configuration, "Artemis:Persistence:MaxRetryAttempts", 100, report);
        PositiveInt(configuration, "Artemis:Persistence:RetryDelayMilliseconds", 60_000, report);
    }

    private static void CheckMessaging(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        const string section = MessagingOptions.SectionName;
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.StreamMaxLength)}", 100, 10_000_000, report);
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.PollMilliseconds)}", 10, 60_000, report);
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.ReadBatchSize)}", 10, 10_000, report);
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.HeartbeatSeconds)}", 1, 3_600, report);
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.PublishBatchSize)}", 1, 10_000, report);
        IntInRange(configuration, $"{section}:{nameof(MessagingOptions.SubscriberQueueLength)}", 16, 1_000_000, report);
    }

    private static void CheckVoice(IConfiguration configuration, PriceCatalog? catalog, ConfigurationReportBuilder report)
    {
        const string section = VoiceOptions.SectionName;
        // The options' [Range] attributes are the limits: one place says them.
        foreach (var property in typeof(VoiceOptions).GetProperties().Where(property => property.PropertyType == typeof(int)))
        {
            var range = property.GetCustomAttribute<System.ComponentModel.DataAnnotations.RangeAttribute>()!;
            IntInRange(configuration, $"{section}:{property.Name}", (int)range.Minimum, (int)range.Maximum, report);
        }

        var thresholdKey = $"{section}:{nameof(VoiceOptions.VadThreshold)}";
        if (configuration[thresholdKey] is { } threshold
            && (!double.TryParse(threshold, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value is < 0 or > 1))
        {
            report.Error(thresholdKey, $"must be a number between 0 and 1, was '{threshold}'");
        }

        var transcription = configuration[$"{section}:{nameof(VoiceOptions.TranscriptionModel)}"];
        if (!string.IsNullOrWhiteSpace(transcription) && catalog is not null
            && (!catalog.TryGetPrice(transcription, out var price) || price.AudioInputUsdPer1M is null))
        {
            report.Error($"{section}:{nameof(VoiceOptions.TranscriptionModel)}",
                $"'{transcription}' has no audio input price: add {PriceCatalog.SectionName}:{transcription}:AudioInputUsdPer1M, InputUsdPer1M and OutputUsdPer1M (transcription is billed apart, and Artemis never calls an unpriced model)");
        }
    }

    private static void CheckConnectionStrings(IConfiguration configuration, ConfigurationReportBuilder report)
    {
        var databaseKey = $"ConnectionStrings:{ResourceNames.Database}";
        if (configuration.GetConnectionString(ResourceNames.Database) is not { Length: > 0 } database)
        {
            report.Error(databaseKey, "is required: the PostgreSQL database (the AppHost's 'artemisdb')");
        }
        else
        {
            try
            {
                var builder = new NpgsqlConnectionStringBuilder(database);
                if (string.IsNullOrWhiteSpace(builder.Host))
                {
                    report.Error(databaseKey, "names no Host");
                }
            }
            catch (ArgumentException exception)
            {
                report.Error(databaseKey, $"is not a PostgreSQL connection string: {exception.Message}");
            }
        }

        var redisKey = $"ConnectionStrings:{ResourceNames.Redis}";
        if (configuration.GetConnectionString(ResourceNames.Redis) is not { Length: > 0 } redis)
        {
            report.Error(redisKey, "is required: the Redis server (the AppHost's 'redis')");
        }
        else
        {
            try
            {
                if (StackExchange.Redis.ConfigurationOptions.Parse(redis).EndPoints.Count == 0)
                {
                    report.Error(redisKey, "names no host:port");
                }
            }
            catch (ArgumentException exception)
            {
                report.Error(redisKey, $"is not a Redis connection string: {exception.Message}");
            }
        }
    }

    /// <summary>
    /// A budget: positive, and at most $9,000,000 — Redis counts budgets in nano-dollars inside Lua scripts, whose
    /// numbers are doubles, exact only below 2^53 (about $9,007,199).
    /// </summary>
    private static decimal? Budget(IConfiguration configuration, string key, decimal fallback, ConfigurationReportBuilder report)
    {
        var value = Positive(configuration, key, fallback, report);
        if (value > MaxBudgetUsd)
        {
            report.Error(key, $"must be at most {MaxBudgetUsd} (budgets are counted exactly in nano-dollars up to there), was {configuration[key]}");
            return null;
        }

        return value;
    }

    private const decimal MaxBudgetUsd = 9_000_000m;

    private static decimal? Positive(IConfiguration configuration, string key, decimal fallback, ConfigurationReportBuilder report)
    {
        if (configuration[key] is not { } text)
        {
            return fallback;
        }

        if (!decimal.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
        {
            report.Error(key, $"must be a number, was '{text}'");
            return null;
        }

        if (value <= 0)
        {
            report.Error(key, $"must be > 0, was {text}");
            return null;
        }

        return value;
    }

    private static void PositiveInt(IConfiguration configuration, string key, int maximum, ConfigurationReportBuilder report) =>
        IntInRange(configuration, key, 1, maximum, report);

    private static void NonNegativeInt(IConfiguration configuration, string key, int maximum, ConfigurationReportBuilder report) =>
        IntInRange(configuration, key, 0, maximum, report);

    private static void IntInRange(IConfiguration configuration, string key, int minimum, int maximum, ConfigurationReportBuilder report)
    {
        if (configuration[key] is not { } text)
        {
            return;
        }

        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
        {
            report.Error(key, $"must be a whole number, was '{text}'");
        }
        else if (value < minimum || value > maximum)
        {
            report.Error(key, minimum == 1 && maximum == int.MaxValue
                ? $"must be > 0, was {text}"
                : $"must be between {minimum} and {maximum}, was {text}");
        }
    }

    private static void PositiveLong(IConfiguration configuration, string key, ConfigurationReportBuilder report)
    {
        if (configuration[key] is { } text
            && (!long.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) || value <= 0))
        {
            report.Error(key, $"must be a whole number > 0, was '{text}'");
        }
    }

    private static void Boolean(IConfiguration configuration, string key, ConfigurationReportBuilder report)
    {
        if (configuration[key] is { } text && !bool.TryParse(text, out _))
        {
            report.Error(key, $"must be true or false, was '{text}'");
        }
    }
}
