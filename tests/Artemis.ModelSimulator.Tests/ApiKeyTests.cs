using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using OpenAI.Models;

namespace Artemis.ModelSimulator.Tests;

/// <summary>With Simulator:ApiKey configured, /v1/* needs it as a bearer token.</summary>
public sealed class ApiKeyTests(ApiKeySimulatorFixture fixture) : IClassFixture<ApiKeySimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    [Fact]
    public async Task Request_without_a_key_is_refused_with_401_in_OpenAI_error_shape_and_logged()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "x" } }""");

        using var response = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi"));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("invalid_api_key", body.RootElement.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("invalid_request_error", body.RootElement.GetProperty("error").GetProperty("type").GetString());
        Assert.Equal(401, Assert.Single(await _sim.RequestsAsync()).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task OpenAI_client_with_a_wrong_key_gets_401_and_with_the_right_key_gets_the_reply()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "authorised" } }""");

        var exception = await Assert.ThrowsAsync<ClientResultException>(() =>
            _sim.ChatClient(apiKey: "wrong-key").CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(401, exception.Status);

        ChatCompletion completion = await _sim.ChatClient(apiKey: ApiKeySimulatorFixture.Key).CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("authorised", completion.Content[0].Text);
    }

    [Fact]
    public async Task Models_endpoint_needs_the_key_too_but_control_and_health_endpoints_do_not()
    {
        await _sim.ResetAsync("""{ "models": ["m"], "steps": [], "fallback": { "content": "x" } }""");

        var exception = await Assert.ThrowsAsync<ClientResultException>(() =>
            new OpenAIModelClient(new ApiKeyCredential("wrong-key"), _sim.ClientOptions()).GetModelsAsync());
        Assert.Equal(401, exception.Status);
        var models = (await new OpenAIModelClient(new ApiKeyCredential(ApiKeySimulatorFixture.Key), _sim.ClientOptions()).GetModelsAsync()).Value;
        Assert.Equal("m", Assert.Single(models).Id);

        using var health = await _sim.Http.GetAsync("health");
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        using var script = await _sim.Http.GetAsync("_sim/script");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }
}
