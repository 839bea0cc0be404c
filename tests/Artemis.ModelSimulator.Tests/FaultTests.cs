using System.ClientModel;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using OpenAI.Chat;

namespace Artemis.ModelSimulator.Tests;

/// <summary>Scripted faults, as a raw HTTP client and the OpenAI client (retries off) see them.</summary>
public sealed class FaultTests(SimulatorFixture fixture) : IClassFixture<SimulatorFixture>
{
    private readonly SimulatorHost _sim = fixture.Host;

    private static string FaultScript(string fault) => $$"""
        {
          "steps": [
            {
              "name": "faulty",
              "match": { "lastRole": "user" },
              "fault": {{fault}},
              "reply": { "content": "Recovered." }
            }
          ]
        }
        """;

    [Fact]
    public async Task Rate_limit_fault_answers_429_with_Retry_After_and_the_next_request_succeeds()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "status", "status": 429, "retryAfterSeconds": 1, "times": 1 }"""));

        using (var limited = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi")))
        {
            Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), limited.Headers.RetryAfter?.Delta);
            using var error = JsonDocument.Parse(await limited.Content.ReadAsStringAsync());
            var body = error.RootElement.GetProperty("error");
            Assert.Equal("rate_limit_exceeded", body.GetProperty("code").GetString());
            Assert.False(string.IsNullOrEmpty(body.GetProperty("message").GetString()));
            Assert.Equal(JsonValueKind.Null, body.GetProperty("param").ValueKind);
        }

        using (var next = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi")))
        {
            Assert.Equal(HttpStatusCode.OK, next.StatusCode);
            using var completion = JsonDocument.Parse(await next.Content.ReadAsStringAsync());
            Assert.Equal("Recovered.", completion.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }
    }

    [Fact]
    public async Task Rate_limit_fault_reaches_the_OpenAI_client_as_a_429_and_the_retry_succeeds()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "status", "status": 429, "retryAfterSeconds": 1 }"""));
        var client = _sim.ChatClient();

        var exception = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(429, exception.Status);
        Assert.Equal("1", exception.GetRawResponse()?.Headers.TryGetValue("Retry-After", out var retryAfter) == true ? retryAfter : null);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Recovered.", completion.Content[0].Text);
    }

    [Fact]
    public async Task Server_error_fault_answers_500_in_OpenAI_error_shape_as_often_as_scripted()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "status", "status": 500, "times": 2 }"""));
        var client = _sim.ChatClient();

        for (var i = 0; i < 2; i++)
        {
            var exception = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
            Assert.Equal(500, exception.Status);
            using var error = JsonDocument.Parse(exception.GetRawResponse()!.Content.ToString());
            Assert.Equal("server_error", error.RootElement.GetProperty("error").GetProperty("type").GetString());
        }

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Recovered.", completion.Content[0].Text);
    }

    [Fact]
    public async Task Drop_fault_aborts_the_connection_so_the_client_throws_and_is_logged()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "drop" }"""));
        var client = _sim.ChatClient();

        var exception = await Assert.ThrowsAsync<ClientResultException>(() => client.CompleteChatAsync([new UserChatMessage("hi")]));
        Assert.Equal(0, exception.Status);
        Assert.IsType<HttpRequestException>(exception.InnerException);

        ChatCompletion completion = await client.CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Recovered.", completion.Content[0].Text);

        var log = await _sim.RequestsAsync();
        Assert.Equal(2, log.Count);
        Assert.Equal("drop", log[0].GetProperty("fault").GetString());
        Assert.Equal(JsonValueKind.Null, log[0].GetProperty("status").ValueKind);
        Assert.Equal(200, log[1].GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task Drop_fault_makes_a_raw_request_fail_without_a_response()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "drop" }"""));

        await Assert.ThrowsAsync<HttpRequestException>(() => _sim.PostChatAsync(SimulatorHost.UserRequest("hi")));
    }

    [Fact]
    public async Task Slow_fault_honours_the_clients_cancellation()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "slow", "delayMs": 30000 }"""));
        using var cancellation = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var stopwatch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() =>
            _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hi")], cancellationToken: cancellation.Token));

        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"Cancelling took {stopwatch.Elapsed}");

        // The simulator notices the client leaving and stops waiting: the entry is marked cancelled, not answered.
        JsonElement entry = default;
        for (var attempt = 0; attempt < 50; attempt++)
        {
            entry = Assert.Single(await _sim.RequestsAsync());
            if (entry.GetProperty("cancelled").GetBoolean())
            {
                break;
            }

            await Task.Delay(100);
        }

        Assert.True(entry.GetProperty("cancelled").GetBoolean(), entry.ToString());
        Assert.Equal("slow", entry.GetProperty("fault").GetString());
        Assert.Equal(JsonValueKind.Null, entry.GetProperty("status").ValueKind);
    }

    [Fact]
    public async Task Slow_fault_answers_normally_after_its_delay()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "slow", "delayMs": 400 }"""));
        var client = _sim.ChatClient();
        var stopwatch = Stopwatch.StartNew();

        ChatCompletion slow = await client.CompleteChatAsync([new UserChatMessage("hi")]);
        var slowTime = stopwatch.Elapsed;
        ChatCompletion fast = await client.CompleteChatAsync([new UserChatMessage("hi")]);

        Assert.Equal("Recovered.", slow.Content[0].Text);
        Assert.Equal("Recovered.", fast.Content[0].Text);
        Assert.True(slowTime >= TimeSpan.FromMilliseconds(380), $"The slow answer took {slowTime}");
        // The fault applies once: the log says the second request met none (no timing bound that a busy machine could break).
        var requests = await _sim.RequestsAsync();
        Assert.Equal("slow", requests[0].GetProperty("fault").GetString());
        Assert.Equal(JsonValueKind.Null, requests[1].GetProperty("fault").ValueKind);
    }

    [Fact]
    public async Task Malformed_usage_fault_reports_a_negative_count_and_leaves_the_total_out()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "malformedUsage" }"""));

        using (var response = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            var usage = body.RootElement.GetProperty("usage");
            Assert.True(usage.GetProperty("completion_tokens").GetInt32() < 0, usage.ToString());
            Assert.False(usage.TryGetProperty("total_tokens", out _), usage.ToString());
            Assert.Equal("Recovered.", body.RootElement.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString());
        }

        // The fault was for one request: the OpenAI client now gets a sound block.
        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal(completion.Usage.InputTokenCount + completion.Usage.OutputTokenCount, completion.Usage.TotalTokenCount);
        Assert.True(completion.Usage.OutputTokenCount > 0);

        var log = await _sim.RequestsAsync();
        Assert.Equal("malformedUsage", log[0].GetProperty("fault").GetString());
        Assert.True(log[0].GetProperty("usage").GetProperty("completion_tokens").GetInt32() < 0);
        Assert.Equal(JsonValueKind.Null, log[1].GetProperty("fault").ValueKind);
    }

    [Fact]
    public async Task Malformed_usage_reaches_the_OpenAI_client_in_a_stream()
    {
        await _sim.ResetAsync(FaultScript("""{ "kind": "malformedUsage" }"""));

        ChatTokenUsage? usage = null;
        await foreach (var update in _sim.ChatClient().CompleteChatStreamingAsync([new UserChatMessage("hi")]))
        {
            usage = update.Usage ?? usage;
        }

        Assert.NotNull(usage);
        Assert.True(usage.OutputTokenCount < 0, $"output tokens {usage.OutputTokenCount}");
    }

    [Fact]
    public async Task Fault_only_step_fails_first_then_the_following_step_answers()
    {
        await _sim.ResetAsync("""
            {
              "steps": [
                { "name": "outage", "fault": { "kind": "status", "status": 503, "times": 1 } },
                { "name": "normal", "reply": { "content": "Back." } }
              ]
            }
            """);

        using (var failed = await _sim.PostChatAsync(SimulatorHost.UserRequest("hi")))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Null(failed.Headers.RetryAfter);
        }

        ChatCompletion completion = await _sim.ChatClient().CompleteChatAsync([new UserChatMessage("hi")]);
        Assert.Equal("Back.", completion.Content[0].Text);
        Assert.Equal(["outage", "normal"], (await _sim.RequestsAsync()).Select(e => e.GetProperty("step").GetString()));
    }
}
