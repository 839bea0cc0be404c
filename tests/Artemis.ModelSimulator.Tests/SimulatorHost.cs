using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using OpenAI;
using OpenAI.Chat;

namespace Artemis.ModelSimulator.Tests;

/// <summary>
/// The real simulator, started in-process on a free loopback port, with a raw HttpClient and factories for the
/// official OpenAI client pointed at it.
/// </summary>
public sealed class SimulatorHost : IAsyncDisposable
{
    public const string Model = "gpt-4o-mini";

    private readonly WebApplication _app;

    private SimulatorHost(WebApplication app, Uri baseAddress)
    {
        _app = app;
        BaseAddress = baseAddress;
        Http = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(15) };
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseAddress { get; }

    /// <summary>The OpenAI endpoint: http://127.0.0.1:PORT/v1</summary>
    public Uri OpenAIEndpoint => new(BaseAddress, "v1");

    public HttpClient Http { get; }

    public static async Task<SimulatorHost> StartAsync(params string[] arguments)
    {
        var app = SimulatorApp.Build(
        [
            "--urls=http://127.0.0.1:0",
            "--Logging:LogLevel:Default=Warning",
            "--Logging:LogLevel:Microsoft.AspNetCore=Warning",
            .. arguments,
        ]);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        await app.StartAsync(timeout.Token);
        return new SimulatorHost(app, SimulatorApp.BaseAddress(app));
    }

    /// <summary>Client options for the simulator: no retries (a test sees every failure) and a short network timeout.</summary>
    public OpenAIClientOptions ClientOptions() => new()
    {
        Endpoint = OpenAIEndpoint,
        RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        NetworkTimeout = TimeSpan.FromSeconds(15),
    };

    public ChatClient ChatClient(string apiKey = "sim-test-key", string model = Model) =>
        new(model, new ApiKeyCredential(apiKey), ClientOptions());

    public async Task PutScriptAsync(string json)
    {
        using var response = await PutScriptRawAsync(json);
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"PUT /_sim/script answered {response.StatusCode}: {body}");
    }

    public Task<HttpResponseMessage> PutScriptRawAsync(string json) =>
        Http.PutAsync("_sim/script", new StringContent(json, Encoding.UTF8, "application/json"));

    /// <summary>Sets the script and empties the request log: a test's clean start on a shared simulator.</summary>
    public async Task ResetAsync(string script)
    {
        await PutScriptAsync(script);
        using var response = await Http.DeleteAsync("_sim/requests");
        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
    }

    public async Task<List<JsonElement>> RequestsAsync()
    {
        using var document = JsonDocument.Parse(await Http.GetStringAsync("_sim/requests"));
        return [.. document.RootElement.EnumerateArray().Select(entry => entry.Clone())];
    }

    /// <summary>POSTs a raw body to /v1/chat/completions.</summary>
    public Task<HttpResponseMessage> PostChatAsync(string body, string? apiKey = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "v1/chat/completions")
        {
            Content = new StringContent(body, Encoding.UTF8, "application/json"),
        };
        if (apiKey is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", apiKey);
        }

        return Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    }

    /// <summary>A minimal chat request body with one user message.</summary>
    public static string UserRequest(string content, bool stream = false, bool? includeUsage = null)
    {
        var body = new Dictionary<string, object?>
        {
            ["model"] = Model,
            ["messages"] = new[] { new { role = "user", content } },
        };
        if (stream)
        {
            body["stream"] = true;
        }

        if (includeUsage is { } include)
        {
            body["stream_options"] = new { include_usage = include };
        }

        return JsonSerializer.Serialize(body);
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await _app.StopAsync(timeout.Token);
        await _app.DisposeAsync();
    }
}

/// <summary>One simulator per test class; each test sets its own script (which also restarts the step counters).</summary>
public class SimulatorFixture : IAsyncLifetime
{
    private readonly string[] _arguments;
    private SimulatorHost? _host;

    public SimulatorFixture()
        : this([])
    {
    }

    protected SimulatorFixture(string[] arguments)
    {
        _arguments = arguments;
    }

    public SimulatorHost Host => _host ?? throw new InvalidOperationException("The simulator has not started.");

    public async Task InitializeAsync() => _host = await SimulatorHost.StartAsync(_arguments);

    public async Task DisposeAsync()
    {
        if (_host is not null)
        {
            await _host.DisposeAsync();
        }
    }
}

/// <summary>A simulator that requires <see cref="Key"/>.</summary>
public sealed class ApiKeySimulatorFixture() : SimulatorFixture([$"--Simulator:ApiKey={Key}"])
{
    public const string Key = "sim-secret-key";
}
