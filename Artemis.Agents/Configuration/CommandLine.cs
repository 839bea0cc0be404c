using System.CommandLine;
using System.Text.Json;
using Artemis.Agents.Files;
using Artemis.Agents.Sandbox;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.SemanticKernel;

namespace Artemis.Agents.Configuration;

/// <summary>
/// The service's command line: with no verb it runs; <c>check-config [--config-file f]</c> prints the configuration
/// report and exits 0 (valid) or 2 (invalid) without starting anything; <c>tool plugin.function --workspace DIR
/// [--arg name=value]… [--args-json '{…}']</c> invokes one kernel function as an agent would and prints its JSON.
/// </summary>
public static class ArtemisCommandLine
{
    public const int Invalid = 2;

    public static Task<int> InvokeAsync(string[] args, Func<string[], Task<int>> runService) =>
        InvokeAsync(args, runService, Console.Out, Console.Error);

    public static Task<int> InvokeAsync(string[] args, Func<string[], Task<int>> runService, TextWriter output, TextWriter error)
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
        root.Subcommands.Add(ToolVerb.Command(output, error));
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

/// <summary>
/// <c>tool plugin.function</c>: the way operators try the file tools and the sandbox by hand. The function runs through
/// a real <see cref="Kernel"/> with the plugins imported, so the output is exactly what the model would get, under
/// the service's configuration (appsettings, <c>Artemis__*</c> environment) for limits, without needing PostgreSQL,
/// Redis or a model. Exit 0 for any result, structured tool errors included; 2 for a usage error.
/// </summary>
internal static class ToolVerb
{
    public static Command Command(TextWriter output, TextWriter error)
    {
        var target = new Argument<string>("plugin.function") { Description = "The kernel function, e.g. files.read_file or sandbox.run_command" };
        var workspace = new Option<string?>("--workspace") { Description = "The workspace folder the plugins are rooted at" };
        var arguments = new Option<string[]>("--arg") { Description = "An argument as name=value (repeatable)", Arity = ArgumentArity.ZeroOrMore };
        var argumentsJson = new Option<string?>("--args-json") { Description = "Arguments as a JSON object, for values argv cannot carry (NUL bytes)" };
        var testCommand = new Option<string?>("--test-command") { Description = "The card's test command, for sandbox.run_tests" };
        var command = new Command("tool", "Invoke one plugin function as an agent would and print the JSON result the model would get")
        {
            target, workspace, arguments, argumentsJson, testCommand,
        };
        command.SetAction((parse, cancellationToken) => InvokeAsync(
            parse.GetValue(target)!, parse.GetValue(workspace), parse.GetValue(arguments) ?? [], parse.GetValue(argumentsJson),
            parse.GetValue(testCommand), output, error, cancellationToken));
        return command;
    }

    public static async Task<int> InvokeAsync(string target, string? workspace, string[] arguments, string? argumentsJson, string? testCommand,
        TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        try
        {
            var (pluginName, functionName) = target.Split('.') is [var p, var f] && p.Length > 0 && f.Length > 0
                ? (p, f)
                : throw new UsageException($"'{target}' is not plugin.function (e.g. files.read_file)");
            if (string.IsNullOrEmpty(workspace))
            {
                throw new UsageException("--workspace DIR is required");
            }

            if (!Directory.Exists(workspace))
            {
                throw new UsageException($"--workspace '{workspace}' does not exist or is not a folder");
            }

            var configuration = LoadConfiguration();
            var kernel = new Kernel();
            if (pluginName == WorkspaceFiles.PluginName)
            {
                var options = Bind<WorkspaceOptions>(configuration, WorkspaceOptions.SectionName);
                if (options.MaxFileBytes <= 0)
                {
                    throw new UsageException($"{WorkspaceOptions.SectionName}:{nameof(WorkspaceOptions.MaxFileBytes)}: must be > 0, was {options.MaxFileBytes}");
                }

                kernel.ImportPluginFromObject(new WorkspaceFiles(Path.GetFullPath(workspace), options, new FileOpenRequests(), NullLogger<WorkspaceFiles>.Instance), WorkspaceFiles.PluginName);
            }
            else if (pluginName == SandboxPlugin.PluginName)
            {
                var options = Bind<SandboxOptions>(configuration, SandboxOptions.SectionName);
                foreach (var property in typeof(SandboxOptions).GetProperties().Where(property => property.PropertyType == typeof(int)))
                {
                    if ((int)property.GetValue(options)! <= 0)
                    {
                        throw new UsageException($"{SandboxOptions.SectionName}:{property.Name}: must be > 0, was {property.GetValue(options)}");
                    }
                }

                var runner = new SandboxRunner(Options.Create(options), SandboxEnvironment.Probe(), NullLogger<SandboxRunner>.Instance);
                kernel.ImportPluginFromObject(new SandboxPlugin(runner, Path.GetFullPath(workspace), testCommand), SandboxPlugin.PluginName);
            }
            else
            {
                throw new UsageException($"unknown plugin '{pluginName}'; known: {WorkspaceFiles.PluginName}, {SandboxPlugin.PluginName}");
            }

            if (!kernel.Plugins.TryGetFunction(pluginName, functionName, out var function))
            {
                var known = string.Join(", ", kernel.Plugins[pluginName].Select(f => $"{pluginName}.{f.Name}"));
                throw new UsageException($"unknown function '{target}'; known: {known}");
            }

            var kernelArguments = Arguments(arguments, argumentsJson, function);
            var result = await kernel.InvokeAsync(function, kernelArguments, cancellationToken);
            await output.WriteLineAsync(result.GetValue<string>());
            return 0;
        }
        catch (UsageException exception)
        {
            await error.WriteLineAsync($"tool: {exception.Message}");
            return ArtemisCommandLine.Invalid;
        }
    }

    private static KernelArguments Arguments(string[] pairs, string? json, KernelFunction function)
    {
        var arguments = new KernelArguments();
        foreach (var pair in pairs)
        {
            var equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new UsageException($"--arg '{pair}' is not name=value");
            }

            arguments[pair[..equals]] = pair[(equals + 1)..];
        }

        if (json is not null)
        {
            try
            {
                using var document = JsonDocument.Parse(json);
                if (document.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new UsageException("--args-json must be a JSON object of arguments");
                }

                foreach (var property in document.RootElement.EnumerateObject())
                {
                    arguments[property.Name] = property.Value.ValueKind == JsonValueKind.String ? property.Value.GetString() : property.Value.GetRawText();
                }
            }
            catch (JsonException exception)
            {
                throw new UsageException($"--args-json is not valid JSON: {exception.Message}");
            }
        }

        var parameters = function.Metadata.Parameters;
        foreach (var name in arguments.Names)
        {
            if (!parameters.Any(parameter => parameter.Name == name))
            {
                throw new UsageException($"'{function.PluginName}.{function.Name}' has no argument '{name}'; it takes: {string.Join(", ", parameters.Select(p => p.Name))}");
            }
        }

        foreach (var parameter in parameters.Where(parameter => parameter.IsRequired && !arguments.ContainsName(parameter.Name)))
        {
            throw new UsageException($"'{function.PluginName}.{function.Name}' needs the argument '{parameter.Name}' (--arg {parameter.Name}=…)");
        }

        return arguments;
    }

    private static T Bind<T>(IConfiguration configuration, string section) where T : new()
    {
        try
        {
            return configuration.GetSection(section).Get<T>() ?? new T();
        }
        catch (InvalidOperationException exception)
        {
            throw new UsageException($"{section}: {exception.Message}");
        }
    }

    /// <summary>The service's own sources: appsettings(.Environment).json beside the binary, then the environment.</summary>
    private static IConfiguration LoadConfiguration()
    {
        var environment = Environment.GetEnvironmentVariable("ASPNETCORE_ENVIRONMENT") ?? Environment.GetEnvironmentVariable("DOTNET_ENVIRONMENT") ?? "Production";
        return new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: true)
            .AddJsonFile($"appsettings.{environment}.json", optional: true)
            .AddEnvironmentVariables()
            .Build();
    }

    private sealed class UsageException(string message) : Exception(message);
}
