using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Text;
using System.Text.Json;
using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Costs;
using Artemis.Agents.Files;
using Artemis.Agents.Messaging;
using Artemis.Agents.Models;
using Artemis.Agents.Persistence;
using Artemis.Agents.Voice;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Artemis.Benchmarks;

/// <summary>
/// The voice bridge's added audio latency: a browser's 20 ms PCM16 frame in → the matching
/// <c>input_audio_buffer.append</c> out at the realtime endpoint, against the same frame sent straight to that
/// endpoint as a client would (the baseline), both streams at once in the same run. The endpoint is a probe that
/// speaks just enough of the GA protocol (session.created / session.updated) and stamps each append on arrival; each
/// frame carries its number in its first samples. Real PostgreSQL and Redis back the bridge's budgets.
/// </summary>
internal static class VoiceBenchmark
{
    private const int Frames = 3000;
    private const int FrameBytes = 24_000 * 2 / 50;
    private static readonly TimeSpan Pace = TimeSpan.FromMilliseconds(10);
    private const string ApiKey = "bench-voice-api-key-0123456789";

    public static async Task<int> RunAsync(string[] args)
    {
        _ = args;
        await using var infrastructure = await BenchInfrastructure.StartAsync();
        var probe = new ProbeUpstream(Frames);
        await using var upstream = await probe.StartAsync();
        var bridge = await StartBridgeAsync(infrastructure, SimulatorApp.BaseAddress(upstream));
        try
        {
            await bridge.Services.GetRequiredService<DatabaseMigrator>().Completed;
            await bridge.Services.GetRequiredService<BudgetReconciler>().Completed;
            var bridgeAddress = SimulatorApp.BaseAddress(bridge);

            using var viaBridge = new ClientWebSocket();
            viaBridge.Options.SetRequestHeader(ResourceNames.ApiKeyHeader, ApiKey);
            await viaBridge.ConnectAsync(new UriBuilder(bridgeAddress) { Scheme = "ws", Path = VoiceApi.Path }.Uri, CancellationToken.None);
            await WaitForReadyAsync(viaBridge);
            using var direct = new ClientWebSocket();
            await direct.ConnectAsync(new UriBuilder(SimulatorApp.BaseAddress(upstream)) { Scheme = "ws", Path = "/v1/realtime", Query = "model=direct" }.Uri, CancellationToken.None);

            // Warm-up: JIT, connection buffers, the first budget probe.
            await StreamAsync(viaBridge, direct, probe, 200);
            probe.Reset();
            var wall = Stopwatch.StartNew();
            await StreamAsync(viaBridge, direct, probe, Frames);
            wall.Stop();
            await probe.WaitForAllAsync(TimeSpan.FromSeconds(30));

            await viaBridge.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            await direct.CloseAsync(WebSocketCloseStatus.NormalClosure, "done", CancellationToken.None);
            var bridged = probe.Latencies(ProbeUpstream.Bridged);
            var baseline = probe.Latencies(ProbeUpstream.Direct);
            var report = Report(bridged, baseline, wall.Elapsed);
            var path = BenchResults.PathOf("voice.md");
            await File.WriteAllTextAsync(path, report);
            Console.WriteLine(report);
            return 0;
        }
        finally
        {
            await bridge.StopAsync();
            await bridge.DisposeAsync();
        }
    }

    private static async Task<WebApplication> StartBridgeAsync(BenchInfrastructure infrastructure, Uri upstream)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(VoiceApi).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = infrastructure.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = infrastructure.Redis,
            [$"ConnectionStrings:{ResourceNames.Model}"] = $"Endpoint={upstream}v1;Key=bench;Model=gpt-4o-mini;RealtimeModel=gpt-realtime",
            ["Artemis:Api:Key"] = ApiKey,
            ["Artemis:Budget:DailyUsd"] = "1000000",
            ["Artemis:Budget:MonthlyUsd"] = "1000000",
            ["Logging:LogLevel:Default"] = "Warning",
        });
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCosts();
        builder.AddModels();
        builder.AddCards();
        builder.AddFiles();
        builder.AddApi();
        builder.AddVoice();
        var app = builder.Build();
        app.UseVoice();
        app.UseApi();
        app.MapVoiceApi();
        await app.StartAsync();
        return app;
    }

    private static async Task WaitForReadyAsync(ClientWebSocket socket)
    {
        var buffer = new byte[16 * 1024];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (true)
        {
            var result = await socket.ReceiveAsync(buffer, timeout.Token);
            if (result.MessageType == WebSocketMessageType.Text && Encoding.UTF8.GetString(buffer, 0, result.Count).Contains("\"ready\"", StringComparison.Ordinal))
            {
                return;
            }
        }
    }

    /// <summary>Both streams at once, one frame each per <see cref="Pace"/>: binary PCM to the bridge, the append event direct.</summary>
    private static async Task StreamAsync(ClientWebSocket viaBridge, ClientWebSocket direct, ProbeUpstream probe, int frames)
    {
        using var timer = new PeriodicTimer(Pace);
        var frame = new byte[FrameBytes];
        for (var i = 0; i < frames; i++)
        {
            await timer.WaitForNextTickAsync();
            BinaryPrimitives.WriteInt32LittleEndian(frame, i);
            var append = Encoding.UTF8.GetBytes($$"""{"type":"input_audio_buffer.append","audio":"{{Convert.ToBase64String(frame)}}"}""");
            probe.Sent(ProbeUpstream.Bridged, i);
            await viaBridge.SendAsync(frame, WebSocketMessageType.Binary, true, CancellationToken.None);
            probe.Sent(ProbeUpstream.Direct, i);
            await direct.SendAsync(append, WebSocketMessageType.Text, true, CancellationToken.None);
        }
    }

    private static string Report(double[] bridged, double[] baseline, TimeSpan wall)
    {
        static double P(double[] sorted, double q) => sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];
        Array.Sort(bridged);
        Array.Sort(baseline);
        var report = new StringBuilder();
        report.AppendLine("# Voice bridge benchmarks").AppendLine();
        report.AppendLine("Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- voice` (from the repository root).");
        report.AppendLine(CultureInfo.InvariantCulture, $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC.");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"{Frames} frames of 20 ms PCM16 at 24 kHz ({FrameBytes} bytes), one every {Pace.TotalMilliseconds:0} ms (twice real time) on each of two streams at once for {wall.TotalSeconds:0.0} s, on loopback. ");
        report.AppendLine("Measured: browser frame sent → the matching `input_audio_buffer.append` received at the realtime endpoint (a probe that stamps each append on arrival). "
            + "Bridged: a binary frame to `/api/voice` (checked, counted for the worst case, base64 + JSON, sent by the OpenAI realtime client). "
            + "Baseline (same run, interleaved frame by frame): the same frame as an append event sent straight to the endpoint, as a direct client would. "
            + "Real PostgreSQL 15 and Redis (LocalServers) behind the bridge's budgets.").AppendLine();
        report.AppendLine("| figure | p50 | p95 | p99 | max |");
        report.AppendLine("|---|---|---|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture, $"| browser frame in → upstream frame out, through the bridge | {Ms(P(bridged, 0.50))} | {Ms(P(bridged, 0.95))} | {Ms(P(bridged, 0.99))} | {Ms(bridged[^1])} |");
        report.AppendLine(CultureInfo.InvariantCulture, $"| baseline: client → endpoint directly | {Ms(P(baseline, 0.50))} | {Ms(P(baseline, 0.95))} | {Ms(P(baseline, 0.99))} | {Ms(baseline[^1])} |");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| added by the bridge (difference of the percentiles) | {Ms(P(bridged, 0.50) - P(baseline, 0.50))} | {Ms(P(bridged, 0.95) - P(baseline, 0.95))} | {Ms(P(bridged, 0.99) - P(baseline, 0.99))} | — |");
        report.AppendLine().AppendLine(CultureInfo.InvariantCulture,
            $"Target (issue #8): added latency p95 < 20 ms on loopback — {(P(bridged, 0.95) - P(baseline, 0.95) < 20 ? "met" : "NOT met")}.");
        return report.ToString();
    }

    private static string Ms(double value) => value.ToString("0.000", CultureInfo.InvariantCulture) + " ms";

    /// <summary>A realtime endpoint that answers the session events and stamps every append's frame number on arrival.</summary>
    private sealed class ProbeUpstream(int frames)
    {
        public const int Bridged = 0;
        public const int Direct = 1;

        private readonly long[][] _sent = [new long[frames], new long[frames]];
        private readonly long[][] _received = [new long[frames], new long[frames]];
        private int _count;

        public void Sent(int stream, int frame) => _sent[stream][frame] = Stopwatch.GetTimestamp();

        public void Reset()
        {
            foreach (var array in _sent.Concat(_received))
            {
                Array.Clear(array);
            }

            Interlocked.Exchange(ref _count, 0);
        }

        public async Task WaitForAllAsync(TimeSpan timeout)
        {
            var deadline = DateTime.UtcNow + timeout;
            while (Volatile.Read(ref _count) < 2 * frames && DateTime.UtcNow < deadline)
            {
                await Task.Delay(50);
            }
        }

        public double[] Latencies(int stream) =>
            [.. Enumerable.Range(0, frames).Where(i => _received[stream][i] != 0).Select(i => Stopwatch.GetElapsedTime(_sent[stream][i], _received[stream][i]).TotalMilliseconds)];

        public async Task<WebApplication> StartAsync()
        {
            var builder = WebApplication.CreateBuilder();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            var app = builder.Build();
            app.UseWebSockets();
            app.Map("/v1/realtime", (Func<HttpContext, Task>)ServeAsync);
            await app.StartAsync();
            return app;
        }

        private async Task ServeAsync(HttpContext context)
        {
            var stream = context.Request.Query["model"] == "direct" ? Direct : Bridged;
            using var socket = await context.WebSockets.AcceptWebSocketAsync();
            await SendAsync(socket, "session.created");
            var buffer = new byte[256 * 1024];
            try
            {
                await ReceiveAsync(socket, stream, buffer);
            }
            catch (WebSocketException)
            {
                // The bridge's side went away at the end of the run.
            }
        }

        private async Task ReceiveAsync(WebSocket socket, int stream, byte[] buffer)
        {
            while (socket.State == WebSocketState.Open)
            {
                var length = 0;
                ValueWebSocketReceiveResult result;
                do
                {
                    result = await socket.ReceiveAsync(buffer.AsMemory(length), CancellationToken.None);
                    length += result.Count;
                }
                while (!result.EndOfMessage && result.MessageType != WebSocketMessageType.Close);

                if (result.MessageType == WebSocketMessageType.Close)
                {
                    await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "bye", CancellationToken.None);
                    break;
                }

                var now = Stopwatch.GetTimestamp();
                using var message = JsonDocument.Parse(buffer.AsMemory(0, length));
                switch (message.RootElement.GetProperty("type").GetString())
                {
                    case "session.update":
                        await SendAsync(socket, "session.updated");
                        break;
                    case "input_audio_buffer.append":
                        var frame = BinaryPrimitives.ReadInt32LittleEndian(Convert.FromBase64String(message.RootElement.GetProperty("audio").GetString()!));
                        if (frame < frames && _received[stream][frame] == 0)
                        {
                            _received[stream][frame] = now;
                            Interlocked.Increment(ref _count);
                        }

                        break;
                }
            }
        }

        private const string Session = """
            "session":{"type":"realtime","object":"realtime.session","id":"sess_probe","model":"gpt-realtime",
             "output_modalities":["audio"],"instructions":"","tools":[],"tool_choice":"auto","max_output_tokens":"inf",
             "audio":{"input":{"format":{"type":"audio/pcm","rate":24000},"transcription":null,"turn_detection":null},
                      "output":{"format":{"type":"audio/pcm","rate":24000},"voice":"alloy"}}}
            """;

        private static Task SendAsync(WebSocket socket, string type) =>
            socket.SendAsync(Encoding.UTF8.GetBytes("{\"type\":\"" + type + "\",\"event_id\":\"event_probe\"," + Session + "}"),
                WebSocketMessageType.Text, true, CancellationToken.None);
    }
}
