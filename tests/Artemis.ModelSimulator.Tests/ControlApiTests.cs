using System.ClientModel;
using System.Net;
using System.Text.Json;
using OpenAI.Chat;
using OpenAI.Models;

namespace Artemis.ModelSimulator.Tests;

/// <summary>The request log, script control, request validation, /v1/models and the health endpoints.</summary>
public sealed class ControlApiTests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    [Fact]
    public async Task Request_log_records_every_request_including_faulted_ones_and_DELETE_clears_it()
    {
        await _sim.ResetAsync("""
            {
              "steps": [ { "name": "flaky", "fault": { "kind": "status", "status": 500, "times": 2 }, "reply": { "content": "ok" } } ]
            }
            """);

        var statuses = new List<HttpStatusCode>();
        foreach (var text in (string[])["first", "second", "third"])
        {
            using var response = await _sim.PostChatAsync(SimulatorHost.UserRequest(text));
            statuses.Add(response.StatusCode);
        }

        using (var invalid = await _sim.PostChatAsync("{ not json"))
        {
            statuses.Add(invalid.StatusCode);
        }

        Assert.Equal([HttpStatusCode.InternalServerError, HttpStatusCode.InternalServerError, HttpStatusCode.OK, HttpStatusCode.BadRequest], statuses);
        var log = await _sim.RequestsAsync();
        Assert.Equal(4, log.Count);
        Assert.Equal([500, 500, 200, 400], log.Select(e => e.GetProperty("status").GetInt32()));
        Assert.Equal(["status", "status", null, null], log.Select(e => e.GetProperty("fault").GetString()));
        Assert.Equal(["first", "second", "third"], log.Take(3).Select(e => e.GetProperty("messages")[0].GetProperty("content").GetString()));
        Assert.All(log, e => Assert.Equal("/v1/chat/completions", e.GetProperty("path").GetString()));
        Assert.Equal(JsonValueKind.Null, log[0].GetProperty("usage").ValueKind);
        Assert.Equal(JsonValueKind.Object, log[2].GetProperty("usage").ValueKind);
        var sequences = log.Select(e => e.GetProperty("sequence").GetInt64()).ToList();
        Assert.Equal(sequences.Order(), sequences);
        Assert.Equal(4, sequences.Distinct().Count());

        using var cleared = await _sim.Http.DeleteAsync("_sim/requests");
        Assert.Equal(HttpStatusCode.NoContent, cleared.StatusCode);
        Assert.Empty(await _sim.RequestsAsync());
    }

    [Theory]
    [InlineData("""{ "steps": [ { "fault": { "kind": "explode" }, "reply": { "content": "x" } } ] }""", "steps[0].fault.kind 'explode' is unknown")]
    [InlineData("""{ "steps": [ { "name": "empty step", "match": { "lastRole": "user" } } ] }""", "steps[0] ('empty step') has neither a reply nor a fault")]
    [InlineData("""{ "steps": [ { "fault": { "kind": "status", "status": 302 } } ] }""", "steps[0].fault.status 302 is outside 400")]
    [InlineData("""{ "steps": [ { "times": -2, "reply": { "content": "x" } } ] }""", "steps[0].times is negative (-2)")]
    [InlineData("""{ "steps": [ { "reply": { "content": "x", "delayMs": -5 } } ] }""", "steps[0].reply.delayMs is negative (-5)")]
    [InlineData("""{ "steps": [], "fallback": { "usage": { "promptTokens": -1 } } }""", "fallback.usage.promptTokens is negative (-1)")]
    [InlineData("""{ "steps": [ { "match": { "lastRole": "robot" }, "reply": { "content": "x" } } ] }""", "lastRole 'robot' is not a role")]
    [InlineData("""{ "steps": [ { "match": { "lastContent": "x" }, "reply": { "content": "x" } } ] }""", "'lastContent'")]
    [InlineData("""{ "steps": [ """, "not valid JSON")]
    public async Task Invalid_script_is_refused_with_400_naming_the_problem_and_the_old_script_stays_active(string script, string problem)
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "the old script" } }""");

        using var response = await _sim.PutScriptRawAsync(script);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var error = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var message = error.RootElement.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains(problem, message, StringComparison.Ordinal);

        using var active = JsonDocument.Parse(await _sim.Http.GetStringAsync("_sim/script"));
        Assert.Equal("the old script", active.RootElement.GetProperty("fallback").GetProperty("content").GetString());
        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("the old script", completion.Content[0].Text);
    }

    [Fact]
    public async Task Script_put_is_returned_by_get_and_restarts_the_step_counters()
    {
        const string Script = """{ "models": ["m1"], "steps": [ { "name": "once", "times": 1, "reply": { "content": "first" } } ], "fallback": { "content": "later" } }""";
        await _sim.ResetAsync(Script);
        var client = _sim.ChatClient();

        Assert.Equal("first", (await client.CompleteChatAsync([new UserChatMessage("a")])).Value.Content[0].Text);
        Assert.Equal("later", (await client.CompleteChatAsync([new UserChatMessage("b")])).Value.Content[0].Text);
        using (var active = JsonDocument.Parse(await _sim.Http.GetStringAsync("_sim/script")))
        {
            Assert.Equal("once", active.RootElement.GetProperty("steps")[0].GetProperty("name").GetString());
            Assert.Equal(1, active.RootElement.GetProperty("steps")[0].GetProperty("times").GetInt32());
        }

        await _sim.PutScriptAsync(Script);
        Assert.Equal("first", (await client.CompleteChatAsync([new UserChatMessage("c")])).Value.Content[0].Text);
    }

    [Fact]
    public async Task Invalid_JSON_body_answers_400_in_OpenAI_error_shape()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "x" } }""");

        using var response = await _sim.PostChatAsync("""{ "model": "gpt-4o-mini", "messages": [ """);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        var error = body.RootElement.GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Contains("could not parse the JSON body", error.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, error.GetProperty("param").ValueKind);
        Assert.Equal(JsonValueKind.Null, error.GetProperty("code").ValueKind);
    }

    [Fact]
    public async Task Request_without_messages_answers_400_naming_the_parameter()
    {
        await _sim.ResetAsync("""{ "steps": [], "fallback": { "content": "x" } }""");

        using var response = await _sim.PostChatAsync("""{ "model": "gpt-4o-mini" }""");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        Assert.Equal("messages", body.RootElement.GetProperty("error").GetProperty("param").GetString());
        Assert.Contains("'messages'", body.RootElement.GetProperty("error").GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Unmatched_request_without_fallback_answers_400_naming_the_last_message()
    {
        await _sim.ResetAsync("""{ "steps": [ { "match": { "lastContentContains": "expected words" }, "reply": { "content": "x" } } ] }""");

        var exception = await Assert.ThrowsAsync<ClientResultException>(() =>
            _sim.ChatClient().CompleteChatAsync([new UserChatMessage("something unexpected")]));

        Assert.Equal(400, exception.Status);
        using var body = JsonDocument.Parse(exception.GetRawResponse()!.Content.ToString());
        var message = body.RootElement.GetProperty("error").GetProperty("message").GetString();
        Assert.Contains("something unexpected", message, StringComparison.Ordinal);
        Assert.Contains("role 'user'", message, StringComparison.Ordinal);
        Assert.Equal(400, Assert.Single(await _sim.RequestsAsync()).GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Step_matches_on_any_content_and_model()
    {
        await _sim.ResetAsync("""
            {
              "steps": [
                { "match": { "model": "gpt-4o", "anyContentContains": "pirate" }, "reply": { "content": "Arr." } },
                { "match": { "anyContentContains": "pirate" }, "reply": { "content": "Ahoy." } }
              ],
              "fallback": { "content": "Hello." }
            }
            """);
        List<ChatMessage> messages = [new SystemChatMessage("Talk like a pirate."), new UserChatMessage("hi")];

        Assert.Equal("Arr.", (await _sim.ChatClient(model: "gpt-4o").CompleteChatAsync(messages)).Value.Content[0].Text);
        Assert.Equal("Ahoy.", (await _sim.ChatClient().CompleteChatAsync(messages)).Value.Content[0].Text);
        Assert.Equal("Hello.", (await _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hi")])).Value.Content[0].Text);
    }

    [Fact]
    public async Task Models_endpoint_lists_the_models_the_script_names()
    {
        await _sim.ResetAsync("""{ "models": ["gpt-4o-mini", "artemis-large"], "steps": [], "fallback": { "content": "x" } }""");

        var models = (await new OpenAIModelClient(new ApiKeyCredential("k"), _sim.ClientOptions()).GetModelsAsync()).Value;

        Assert.Equal(["gpt-4o-mini", "artemis-large"], models.Select(m => m.Id));
        Assert.All(models, m => Assert.Equal("artemis-simulator", m.OwnedBy));
        using var raw = JsonDocument.Parse(await _sim.Http.GetStringAsync("v1/models"));
        Assert.Equal("list", raw.RootElement.GetProperty("object").GetString());
        Assert.Equal("model", raw.RootElement.GetProperty("data")[0].GetProperty("object").GetString());
    }

    [Fact]
    public async Task Concurrent_requests_are_all_logged_with_distinct_sequence_numbers_and_times_is_never_exceeded()
    {
        await _sim.ResetAsync("""{ "steps": [ { "times": 10, "reply": { "content": "limited" } } ], "fallback": { "content": "fallback" } }""");
        var client = _sim.ChatClient();

        var replies = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i =>
        {
            ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage($"request {i}")]);
            return completion.Content[0].Text;
        }));

        Assert.Equal(10, replies.Count(r => r == "limited"));
        Assert.Equal(40, replies.Count(r => r == "fallback"));
        var log = await _sim.RequestsAsync();
        Assert.Equal(50, log.Count);
        Assert.Equal(50, log.Select(e => e.GetProperty("sequence").GetInt64()).Distinct().Count());
        Assert.Equal(50, log.Select(e => e.GetProperty("messages")[0].GetProperty("content").GetString()).Distinct().Count());
        Assert.All(log, e => Assert.Equal(200, e.GetProperty("status").GetInt32()));
    }

    [Theory]
    [InlineData("health")]
    [InlineData("alive")]
    public async Task Health_endpoints_answer_healthy(string path)
    {
        using var response = await _sim.Http.GetAsync(path);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("Healthy", await response.Content.ReadAsStringAsync());
    }
}
