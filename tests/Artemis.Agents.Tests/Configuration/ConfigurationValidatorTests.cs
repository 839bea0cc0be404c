using Artemis.Agents.Configuration;
using Microsoft.Extensions.Configuration;

namespace Artemis.Agents.Tests.Configuration;

/// <summary>
/// Every rule of the configuration report, each with a configuration that breaks it: the report must name the key.
/// The baseline configuration is valid, so a validator that refuses everything fails the first test.
/// </summary>
public sealed class ConfigurationValidatorTests : IDisposable
{
    private readonly string _workspace = Directory.CreateTempSubdirectory("artemis-config-").FullName;

    private Dictionary<string, string?> Valid() => new()
    {
        ["Artemis:Api:Key"] = "0123456789abcdef0123",
        ["ConnectionStrings:model"] = "Endpoint=http://127.0.0.1:5380/v1;Key=sk-test;Model=gpt-4o-mini;RealtimeModel=gpt-realtime-mini",
        ["ConnectionStrings:artemisdb"] = "Host=localhost;Port=5432;Username=postgres;Password=pw;Database=artemisdb",
        ["ConnectionStrings:redis"] = "localhost:6379,password=pw",
        ["Artemis:Workspace:Root"] = _workspace,
    };

    private static ConfigurationReport Validate(Dictionary<string, string?> settings) =>
        ConfigurationValidator.Validate(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

    private ConfigurationReport ValidateWith(params (string Key, string? Value)[] changes)
    {
        var settings = Valid();
        foreach (var (key, value) in changes)
        {
            settings[key] = value;
        }

        return Validate(settings);
    }

    private static void AssertError(ConfigurationReport report, string key, string fragment)
    {
        Assert.False(report.IsValid);
        Assert.Contains(report.Errors, error => error.Key == key && error.Message.Contains(fragment, StringComparison.Ordinal));
    }

    [Fact]
    public void A_complete_configuration_is_valid()
    {
        var report = Validate(Valid());
        Assert.True(report.IsValid, report.Format());
    }

    [Fact]
    public void Missing_model_endpoint_is_an_error()
    {
        var settings = Valid();
        settings["ConnectionStrings:model"] = "Key=sk-test;Model=gpt-4o-mini";
        AssertError(Validate(settings), "Artemis:Model:Endpoint", "is required");
    }

    [Theory]
    [InlineData("not a url")]
    [InlineData("ftp://example.com/v1")]
    [InlineData("/v1")]
    public void Model_endpoint_must_be_an_absolute_http_url(string endpoint) =>
        AssertError(ValidateWith(("Artemis:Model:Endpoint", endpoint)), "Artemis:Model:Endpoint", "must be an absolute http(s) URL");

    [Fact]
    public void Plain_http_to_another_host_is_a_warning_not_an_error()
    {
        var report = ValidateWith(("Artemis:Model:Endpoint", "http://models.example.com/v1"));
        Assert.True(report.IsValid, report.Format());
        Assert.Contains(report.Warnings, warning => warning.Key == "Artemis:Model:Endpoint");
    }

    [Theory]
    [InlineData("sk-abc\ndef")]
    [InlineData("sk abc")]
    public void Malformed_model_key_is_an_error_that_does_not_print_the_key(string key)
    {
        var report = ValidateWith(("Artemis:Model:ApiKey", key));
        AssertError(report, "Artemis:Model:ApiKey", "is malformed");
        Assert.DoesNotContain("abc", report.Format(), StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_model_is_refused_never_priced_zero() =>
        AssertError(ValidateWith(("Artemis:Model:Name", "gpt-9-turbo")), "Artemis:Model:Name", "has no price");

    [Fact]
    public void A_configured_price_makes_a_new_model_valid()
    {
        // Configuration keys cannot hold ':', so an Ollama tag such as llama3.1:8b is priced as llama3.1-8b.
        var report = ValidateWith(("Artemis:Model:Name", "llama3.1:8b"),
            ("Artemis:Pricing:llama3.1-8b:InputUsdPer1M", "0"), ("Artemis:Pricing:llama3.1-8b:OutputUsdPer1M", "0"));
        Assert.True(report.IsValid, report.Format());
    }

    [Fact]
    public void Dated_snapshot_of_a_listed_model_is_priced_as_that_model() =>
        Assert.True(ValidateWith(("Artemis:Model:Name", "gpt-4o-2024-08-06")).IsValid);

    [Fact]
    public void Realtime_model_needs_audio_prices() =>
        AssertError(ValidateWith(("Artemis:Model:RealtimeName", "gpt-4o-mini")), "Artemis:Model:RealtimeName", "has no audio prices");

    [Theory]
    [InlineData("Artemis:Pricing:gpt-4o:InputUsdPer1M", "abc", "must be a number")]
    [InlineData("Artemis:Pricing:gpt-4o:OutputUsdPer1M", "-1", "must be >= 0")]
    [InlineData("Artemis:Pricing:gpt-4o:CachedInputUsdPer1M", "99", "must not exceed InputUsdPer1M")]
    [InlineData("Artemis:Pricing:gpt-4o:InputUsdPer1m2", "1", "unknown setting")]
    public void Price_typos_and_bad_values_name_the_key(string key, string value, string fragment) =>
        AssertError(ValidateWith((key, value)), key, fragment);

    [Fact]
    public void A_new_model_without_prices_names_the_missing_ones()
    {
        var report = ValidateWith(("Artemis:Pricing:my-model:CachedInputUsdPer1M", "0.1"));
        AssertError(report, "Artemis:Pricing:my-model:InputUsdPer1M", "is required");
        AssertError(report, "Artemis:Pricing:my-model:OutputUsdPer1M", "is required");
    }

    [Theory]
    [InlineData("Artemis:Budget:DailyUsd", "-5", "must be > 0, was -5")]
    [InlineData("Artemis:Budget:MonthlyUsd", "0", "must be > 0, was 0")]
    [InlineData("Artemis:Budget:PerCardUsd", "lots", "must be a number")]
    [InlineData("Artemis:Budget:AlertThreshold", "0", "must be in (0, 1]")]
    [InlineData("Artemis:Budget:AlertThreshold", "1.5", "must be in (0, 1]")]
    [InlineData("Artemis:Budget:AlertThreshold", "NaN", "must be a number")]
    [InlineData("Artemis:Budget:TimeZone", "Mars/Olympus", "not a known time zone")]
    [InlineData("Artemis:Budget:MonthlyUsd", "1e7", "must be at most 9000000")]
    [InlineData("Artemis:Budget:LeaseUsd", "-0.1", "must be >= 0")]
    [InlineData("Artemis:Budget:LeaseUsd", "a dime", "must be a number")]
    [InlineData("Artemis:Budget:LeaseUsd", "5", "must not exceed PerCardUsd")]
    public void Budget_values_out_of_range_name_the_key(string key, string value, string fragment) =>
        AssertError(ValidateWith((key, value)), key, fragment);

    [Fact]
    public void Daily_budget_above_the_monthly_one_is_inconsistent() =>
        AssertError(ValidateWith(("Artemis:Budget:DailyUsd", "50"), ("Artemis:Budget:MonthlyUsd", "20")),
            "Artemis:Budget:DailyUsd", "must not exceed MonthlyUsd");

    [Fact]
    public void Card_budget_above_the_daily_one_is_inconsistent() =>
        AssertError(ValidateWith(("Artemis:Budget:PerCardUsd", "50")), "Artemis:Budget:PerCardUsd", "must not exceed DailyUsd");

    [Fact]
    public void Time_zone_by_iana_id_is_valid() =>
        Assert.True(ValidateWith(("Artemis:Budget:TimeZone", "Europe/Paris")).IsValid);

    [Fact]
    public void Missing_workspace_root_is_an_error() =>
        AssertError(ValidateWith(("Artemis:Workspace:Root", "/nonexistent/artemis")), "Artemis:Workspace:Root", "does not exist");

    [Fact]
    public void Relative_workspace_root_is_an_error() =>
        AssertError(ValidateWith(("Artemis:Workspace:Root", "workspaces")), "Artemis:Workspace:Root", "must be an absolute path");

    [Fact]
    public void Unwritable_workspace_root_is_an_error()
    {
        // Root ignores permissions; a folder inside /proc refuses everyone.
        AssertError(ValidateWith(("Artemis:Workspace:Root", "/proc/self")), "Artemis:Workspace:Root", "is not writable");
    }

    [Fact]
    public void A_file_as_workspace_root_is_an_error()
    {
        var file = Path.Combine(_workspace, "a-file");
        File.WriteAllText(file, "");
        AssertError(ValidateWith(("Artemis:Workspace:Root", file)), "Artemis:Workspace:Root", "is not a folder");
    }

    [Theory]
    [InlineData("Artemis:Sandbox:CpuSeconds", "0")]
    [InlineData("Artemis:Sandbox:MemoryMb", "-1")]
    [InlineData("Artemis:Sandbox:MaxFileSizeMb", "0")]
    [InlineData("Artemis:Sandbox:MaxProcesses", "0")]
    [InlineData("Artemis:Sandbox:MaxOpenFiles", "0")]
    [InlineData("Artemis:Sandbox:TimeoutSeconds", "-30")]
    [InlineData("Artemis:Sandbox:MaxOutputBytes", "0")]
    [InlineData("Artemis:Sandbox:WorkspaceQuotaMb", "0")]
    public void Non_positive_sandbox_limits_name_the_key(string key, string value) =>
        AssertError(ValidateWith((key, value)), key, "must be > 0");

    [Fact]
    public void Sandbox_limit_that_is_not_a_number_names_the_key() =>
        AssertError(ValidateWith(("Artemis:Sandbox:CpuSeconds", "ten")), "Artemis:Sandbox:CpuSeconds", "must be a whole number");

    [Fact]
    public void Allow_unisolated_must_be_a_boolean() =>
        AssertError(ValidateWith(("Artemis:Sandbox:AllowUnisolated", "sometimes")), "Artemis:Sandbox:AllowUnisolated", "must be true or false");

    [Theory]
    [InlineData("Artemis:Agents:ParallelDevelopers", "0")]
    [InlineData("Artemis:Agents:ParallelDevelopers", "100")]
    [InlineData("Artemis:Agents:MaxTurns", "0")]
    public void Agent_limits_out_of_range_name_the_key(string key, string value) =>
        AssertError(ValidateWith((key, value)), key, "must be between");

    [Theory]
    [InlineData("Artemis:Messaging:StreamMaxLength", "99", "must be between 100 and 10000000")]
    [InlineData("Artemis:Messaging:PollMilliseconds", "0", "must be between 10 and 60000")]
    [InlineData("Artemis:Messaging:ReadBatchSize", "many", "must be a whole number")]
    [InlineData("Artemis:Messaging:PublishBatchSize", "0", "must be between 1 and 10000")]
    [InlineData("Artemis:Messaging:SubscriberQueueLength", "8", "must be between 16 and 1000000")]
    [InlineData("Artemis:Messaging:HeartbeatSeconds", "-1", "must be between 1 and 3600")]
    public void Messaging_settings_out_of_range_name_the_key(string key, string value, string fragment) =>
        AssertError(ValidateWith((key, value)), key, fragment);

    [Theory]
    [InlineData("Artemis:Voice:MaxOutputTokens", "0", "must be between 16 and 4096")]
    [InlineData("Artemis:Voice:SendQueueCapacity", "2", "must be between 4 and 100000")]
    [InlineData("Artemis:Voice:MaxAudioFrameBytes", "lots", "must be a whole number")]
    [InlineData("Artemis:Voice:VadThreshold", "1.5", "between 0 and 1")]
    [InlineData("Artemis:Voice:VadThreshold", "loud", "between 0 and 1")]
    public void Voice_limits_out_of_range_name_the_key(string key, string value, string fragment) =>
        AssertError(ValidateWith((key, value)), key, fragment);

    [Fact]
    public void Voice_transcription_with_a_priced_model_is_valid_and_without_an_audio_price_is_refused()
    {
        var priced = ValidateWith(("Artemis:Voice:TranscriptionModel", "gpt-4o-mini-transcribe"));
        Assert.True(priced.IsValid);
        Assert.DoesNotContain(priced.Warnings, warning => warning.Key == "Artemis:Voice:TranscriptionModel");

        AssertError(ValidateWith(("Artemis:Voice:TranscriptionModel", "whisper-9")), "Artemis:Voice:TranscriptionModel", "'whisper-9' has no audio input price");
        // A chat model has a price but none for audio: it cannot be priced as a transcription.
        AssertError(ValidateWith(("Artemis:Voice:TranscriptionModel", "gpt-4o-mini")), "Artemis:Voice:TranscriptionModel", "has no audio input price");
    }

    [Theory]
    [InlineData("Artemis:Voice:VoiceNme", "Artemis:Voice:VoiceNme", "did you mean 'VoiceName'")]
    [InlineData("Artemis:Budget:DailyUSD2", "Artemis:Budget:DailyUSD2", "did you mean 'DailyUsd'")]
    [InlineData("Artemis:Sandbx:CpuSeconds", "Artemis:Sandbx", "did you mean 'Sandbox'")]
    [InlineData("Artemis:Workspace:MaxFileByte", "Artemis:Workspace:MaxFileByte", "did you mean 'MaxFileBytes'")]
    [InlineData("Artemis:Colour", "Artemis:Colour", "unknown section")]
    public void Unknown_keys_are_errors_with_a_suggestion(string key, string reportedKey, string fragment) =>
        AssertError(ValidateWith((key, "1")), reportedKey, fragment);

    [Fact]
    public void Missing_api_key_is_an_error() =>
        AssertError(ValidateWith(("Artemis:Api:Key", null)), "Artemis:Api:Key", "is required");

    [Fact]
    public void Short_api_key_is_an_error_that_does_not_print_it()
    {
        var report = ValidateWith(("Artemis:Api:Key", "short-key"));
        AssertError(report, "Artemis:Api:Key", "at least 16 characters");
        Assert.DoesNotContain("short-key", report.Format(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("ConnectionStrings:model", "Endpoint=http://x/v1;Modle=gpt-4o", "unknown key 'Modle'")]
    [InlineData("ConnectionStrings:model", "this is not a connection string", "connection string")]
    [InlineData("ConnectionStrings:artemisdb", "Hots=localhost", "is not a PostgreSQL connection string")]
    [InlineData("ConnectionStrings:artemisdb", null, "is required")]
    [InlineData("ConnectionStrings:redis", null, "is required")]
    [InlineData("ConnectionStrings:redis", ",password=x", "names no host:port")]
    public void Bad_connection_strings_name_the_connection(string key, string? value, string fragment) =>
        AssertError(ValidateWith((key, value)), key, fragment);

    [Fact]
    public void Every_problem_is_reported_at_once()
    {
        var report = ValidateWith(("Artemis:Budget:DailyUsd", "-5"), ("Artemis:Sandbox:CpuSeconds", "0"), ("Artemis:Typo", "1"));
        Assert.True(report.Errors.Count >= 3, report.Format());
    }

    [Fact]
    public void Explicit_model_settings_override_the_connection_string()
    {
        var report = ValidateWith(("Artemis:Model:Name", "gpt-4.1"), ("Artemis:Model:Endpoint", "https://api.openai.com/v1"));
        Assert.True(report.IsValid, report.Format());
        var model = Artemis.Agents.Models.ModelOptions.From(new ConfigurationBuilder().AddInMemoryCollection(
            Valid().Concat([new("Artemis:Model:Name", "gpt-4.1"), new("Artemis:Model:Endpoint", "https://api.openai.com/v1")])).Build());
        Assert.Equal("gpt-4.1", model.Name);
        Assert.Equal(new Uri("https://api.openai.com/v1"), model.Endpoint);
        Assert.Equal("sk-test", model.ApiKey);
        Assert.Equal("gpt-realtime-mini", model.RealtimeName);
    }

    public void Dispose() => Directory.Delete(_workspace, recursive: true);
}
