using System.CommandLine;
using System.Text.Json;

namespace Artemis.Agents.Configuration;

/// <summary>
/// The service's command line: with no verb it runs; <c>check-config [--config-file f]</c> prints the configuration
/// report and exits 0 (valid) or 2 (invalid) without starting anything.
/// </summary>
public static class ArtemisCommandLine
{
    public const int Invalid = 2;

    public static Task<int> InvokeAsync(string[] args, Func<string[], Task<int>> runService)
    {
        var configFile = new Option<FileInfo?>("--config-file")
        {
            Description = "A JSON file of settings, applied over appsettings.json and the environment",
        };
        var checkConfig = new Command("check-config", "Validate the configuration (and reach PostgreSQL, Redis and the model), print the report, exit 0 or 2");
        checkConfig.Options.Add(configFile);
        checkConfig.SetAction((parse, cancellationToken) => CheckConfigAsync(parse.GetValue(configFile), Console.Out, cancellationToken));

        var root = new RootCommand("Artemis agents service: runs the API, the supervisor and the agents")
        {
            TreatUnmatchedTokensAsErrors = false,
        };
        root.Subcommands.Add(checkConfig);
        root.SetAction((_, _) => RunGuardedAsync(args, runService));
        return root.Parse(args).InvokeAsync();
    }

    /// <summary>A configuration the service refuses is a report and exit code 2, not a crash with a stack trace.</summary>
    private static async Task<int> RunGuardedAsync(string[] args, Func<string[], Task<int>> runService)
    {
        try
        {
            return await runService(args);
        }
        catch (InvalidConfigurationException exception)
        {
            await Console.Error.WriteAsync("The service refuses to start. " + exception.Report.Format());
            return Invalid;
        }
        catch (InvalidDataException exception) when (exception.InnerException is FormatException or System.Text.Json.JsonException)
        {
            // A malformed appsettings*.json: the loader names the file, its inner exception the line.
            await Console.Error.WriteLineAsync($"The service refuses to start. {exception.Message} {exception.InnerException?.Message}");
            return Invalid;
        }
    }

    public static async Task<int> CheckConfigAsync(FileInfo? configFile, TextWriter output, CancellationToken cancellationToken)
    {
        var report = await BuildReportAsync(configFile, cancellationToken);
        await output.WriteAsync(report.Format());
        return report.IsValid ? 0 : Invalid;
    }

    private static async Task<ConfigurationReport> BuildReportAsync(FileInfo? configFile, CancellationToken cancellationToken)
    {
        var builder = new ConfigurationReportBuilder();
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT")
            ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        var files = new List<string>();
        foreach (var name in new[] { "appsettings.json", $"appsettings.{environment}.json" })
        {
            var path = Path.Combine(AppContext.BaseDirectory, name);
            if (File.Exists(path))
            {
                files.Add(path);
            }
        }

        if (configFile is not null)
        {
            if (!configFile.Exists)
            {
                builder.Error(configFile.FullName, "does not exist");
            }
            else
            {
                files.Add(configFile.FullName);
            }
        }

        foreach (var file in files)
        {
            if (MalformedJson(file) is { } problem)
            {
                builder.Error(file, problem);
            }
        }

        var partial = builder.Build();
        if (!partial.IsValid)
        {
            return partial;
        }

        var configuration = new ConfigurationBuilder();
        foreach (var file in files)
        {
            configuration.AddJsonFile(file, optional: false, reloadOnChange: false);
        }

        var built = configuration.AddEnvironmentVariables().Build();
        return await ConfigurationProbes.ProbeAsync(built, ConfigurationValidator.Validate(built), ConfigurationProbes.DefaultTimeout, cancellationToken);
    }

    /// <summary>Where a JSON settings file is malformed (1-based line), as the configuration loader would fail on it.</summary>
    public static string? MalformedJson(string path)
    {
        try
        {
            using var document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions
            {
                CommentHandling = JsonCommentHandling.Skip,
                AllowTrailingCommas = true,
            });
            return document.RootElement.ValueKind == JsonValueKind.Object ? null : "must hold a JSON object of settings";
        }
        catch (JsonException exception)
        {
            return $"malformed JSON at line {(exception.LineNumber ?? 0) + 1}: {exception.Message.Split(" Path:")[0].Split(" LineNumber:")[0]}";
        }
    }
}
