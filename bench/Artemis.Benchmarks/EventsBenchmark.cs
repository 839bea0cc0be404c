using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Artemis.Agents.Api;
using Artemis.Agents.Cards;
using Artemis.Agents.Messaging;
using Artemis.Agents.Persistence;
using Artemis.ModelSimulator;
using Artemis.ServiceDefaults;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Artemis.Benchmarks;

/// <summary>
/// Events from publish to a live SSE client (issue #6): the Agents service's cards and messaging features behind its
/// real HTTP pipeline on loopback, real PostgreSQL and Redis, one SSE client of <c>/api/cards/{id}/events</c> per card.
/// Open loop: event i is due at start + i / rate and is published then, whether or not earlier ones are done, so a
/// slow pipeline shows as latency rather than as a lower rate. Latency runs from the event's due time to the moment
/// its client has parsed it; every client checks that it got each of its card's events once, in order.
/// </summary>
internal static class EventsBenchmark
{
    private const string ApiKey = "bench-events-api-key-0123456789";

    public static async Task<int> RunAsync(string[] args)
    {
        var rate = Option(args, "--rate", 10_000);
        var seconds = Option(args, "--seconds", 10);
        var warmupSeconds = Option(args, "--warmup", 3);
        var cardCount = Option(args, "--cards", 4);

        var loadBefore = LoadAverage();
        await using var infrastructure = await BenchInfrastructure.StartAsync();
        var scratch = Directory.CreateTempSubdirectory("artemis-bench-events-");
        var app = await StartAgentsAsync(infrastructure);
        try
        {
            await app.Services.GetRequiredService<DatabaseMigrator>().Completed;
            var address = SimulatorApp.BaseAddress(app);
            using var api = new HttpClient { BaseAddress = address };
            api.DefaultRequestHeaders.Add(ResourceNames.ApiKeyHeader, ApiKey);
            var cards = new List<string>();
            for (var k = 0; k < cardCount; k++)
            {
                using var response = await api.PostAsJsonAsync("api/cards", new { title = $"events bench {k}", workspace = scratch.FullName, testCommand = "true" });
                response.EnsureSuccessStatusCode();
                cards.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!);
            }

            var total = rate * (warmupSeconds + seconds);
            var run = new Run(total, cardCount);
            using var stop = new CancellationTokenSource();
            var clients = cards.Select((id, k) => SseClientAsync(address, id, k, run, stop.Token)).ToList();
            var global = GlobalReaderAsync(app.Services.GetRequiredService<EventHub>(), run, stop.Token);
            await run.Connected(cardCount).WaitAsync(TimeSpan.FromSeconds(30));

            var publisher = app.Services.GetRequiredService<EventPublisher>();
            var wall = await Task.Factory.StartNew(() => Publish(publisher, cards, rate, run), TaskCreationOptions.LongRunning);
            await run.AllAcknowledged.WaitAsync(TimeSpan.FromSeconds(60));
            var complete = await Task.WhenAny(run.AllDelivered, Task.Delay(TimeSpan.FromSeconds(60))) == run.AllDelivered;
            await Task.Delay(TimeSpan.FromSeconds(1)); // anything extra (a duplicate) would arrive now
            await stop.CancelAsync();
            await Task.WhenAll(clients.Append(global).Select(task => task.ContinueWith(_ => { }, TaskScheduler.Default)));

            var report = Report(run, loadBefore, rate, seconds, warmupSeconds, cardCount, wall, complete);
            await BenchResults.WriteKeepingAnalysisAsync("events.md", report);
            Console.WriteLine(report);
            return run.Verify().Count == 0 && complete ? 0 : 1;
        }
        finally
        {
            await app.StopAsync();
            await app.DisposeAsync();
            scratch.Delete(recursive: true);
        }
    }

    private static async Task<WebApplication> StartAgentsAsync(BenchInfrastructure infrastructure)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ApplicationName = typeof(CardsApi).Assembly.GetName().Name });
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            [$"ConnectionStrings:{ResourceNames.Database}"] = infrastructure.Database,
            [$"ConnectionStrings:{ResourceNames.Redis}"] = infrastructure.Redis,
            [ResourceNames.ApiKeyConfigKey] = ApiKey,
            ["Logging:LogLevel:Default"] = "Warning",
        });

        // The service's messaging settings are its defaults: the benchmark measures what ships.
        builder.AddPersistence();
        builder.AddMessaging();
        builder.AddCards();
        builder.AddApi();
        var app = builder.Build();
        app.UseApi();
        app.MapCardsApi();
        await app.StartAsync();
        return app;
    }

    /// <summary>
    /// The open-loop publisher, on its own thread: every event that is due is published at once (its task is not
    /// awaited), then the thread sleeps until the next one is due. Returns the time from the first due time to the
    /// last publish call.
    /// </summary>
    private static TimeSpan Publish(EventPublisher publisher, List<string> cards, int rate, Run run)
    {
        var start = Stopwatch.GetTimestamp();
        var interval = (double)Stopwatch.Frequency / rate;
        for (var i = 0; i < run.Total;)
        {
            var now = Stopwatch.GetTimestamp();
            while (i < run.Total && start + (long)(i * interval) <= now)
            {
                var seq = i++;
                run.Due[seq] = start + (long)(seq * interval);
                run.Called[seq] = Stopwatch.GetTimestamp();
                var task = publisher.PublishAsync(cards[seq % cards.Count], EventKinds.AgentMessage, new Payload(seq), CancellationToken.None);
                _ = task.ContinueWith(done => run.Acknowledged(seq, done), TaskScheduler.Default);
            }

            var wait = start + (long)(i * interval) - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                Thread.Sleep(TimeSpan.FromTicks(Math.Max(1, wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)));
            }
        }

        return Stopwatch.GetElapsedTime(start);
    }

    /// <summary>A real HTTP client of one card's event stream: reads the text/event-stream, parses each event's JSON.</summary>
    private static async Task SseClientAsync(Uri address, string cardId, int card, Run run, CancellationToken cancellationToken)
    {
        using var http = new HttpClient { BaseAddress = address, Timeout = Timeout.InfiniteTimeSpan };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/cards/{cardId}/events");
        request.Headers.Accept.ParseAdd(CardEventStreamResult.ContentType);
        request.Headers.Add(ResourceNames.ApiKeyHeader, ApiKey);
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
        response.EnsureSuccessStatusCode();
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(cancellationToken), Encoding.UTF8);
        string? id = null, data = null;
        try
        {
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (line.StartsWith("id: ", StringComparison.Ordinal))
                {
                    id = line[4..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data = line[6..];
                }
                else if (line.Length == 0 && data is not null)
                {
                    using var json = JsonDocument.Parse(data);
                    var item = json.RootElement;
                    if (item.GetProperty("kind").GetString() == EventKinds.AgentMessage)
                    {
                        var seq = item.GetProperty("payload").GetProperty("seq").GetInt32();
                        var received = Stopwatch.GetTimestamp();
                        run.Delivered(card, seq, long.Parse(id!, CultureInfo.InvariantCulture), item.GetProperty("cardId").GetString() == cardId, received);
                    }
                    else
                    {
                        // card.created, the first event of each card: the client is connected and caught up.
                        run.ClientConnected();
                    }

                    id = data = null;
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over.
        }
    }

    /// <summary>An in-process follower of every card's events (no HTTP): splits the latency into reader and SSE parts.</summary>
    private static async Task GlobalReaderAsync(EventHub hub, Run run, CancellationToken cancellationToken)
    {
        try
        {
            await foreach (var item in hub.FollowAsync(null, 0, cancellationToken))
            {
                if (item.Kind == EventKinds.AgentMessage && item.Payload.TryGetProperty("seq", out var seq))
                {
                    run.GlobalSeen[seq.GetInt32()] = Stopwatch.GetTimestamp();
                }
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // The run is over.
        }
    }

    private static string Report(Run run, string loadBefore, int rate, int seconds, int warmupSeconds, int cardCount, TimeSpan wall, bool complete)
    {
        var measured = Enumerable.Range(rate * warmupSeconds, rate * seconds).ToArray();
        var problems = run.Verify();
        var delivered = run.DeliveredCount;
        var report = new StringBuilder();
        report.AppendLine("# Event pipeline benchmark: publish → SSE client").AppendLine();
        report.AppendLine(CultureInfo.InvariantCulture,
            $"Command: `dotnet run -c Release --project bench/Artemis.Benchmarks -- events` (from the repository root; this run: `--rate {rate} --seconds {seconds} --warmup {warmupSeconds} --cards {cardCount}`, the defaults being 10000, 10, 3 and 4).");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"Machine: {Environment.MachineName}, {Environment.ProcessorCount} cores, {System.Runtime.InteropServices.RuntimeInformation.OSDescription}, .NET {Environment.Version}; {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC; load average (1, 5, 15 min) before the run {loadBefore}.");
        report.Append(CultureInfo.InvariantCulture,
            $"Open loop: {rate:N0} events/s due at fixed times for {warmupSeconds + seconds} s ({warmupSeconds} s warm-up, then {seconds} s measured), round-robin over {cardCount} cards; ");
        report.AppendLine(
            "`EventPublisher.PublishAsync` from one thread, not awaited. One real HTTP/1.1 SSE client per card on `/api/cards/{id}/events` over loopback (Kestrel, the service's API key middleware), "
            + "reading the text/event-stream and parsing each event's JSON; an in-process reader of every card (`EventHub.FollowAsync(null)`, no HTTP) beside them; all of them fed by the service's one follower of the stream (`EventHub`). "
            + "Real PostgreSQL 15 and Redis (LocalServers), the service's default messaging settings; publisher, service, clients and both servers share the machine's cores.").AppendLine();

        report.AppendLine("| figure | measured | target |");
        report.AppendLine("|---|---|---|");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| publish rate achieved (calls / time from first due to last call) | {run.Total / wall.TotalSeconds:N0}/s ({run.Total:N0} in {wall.TotalSeconds:0.00} s) | {rate:N0}/s |");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| published (acknowledged: in Postgres and the stream) | {run.AcknowledgedCount:N0} ({run.FailedCount:N0} failed) | all |");
        var verdict = problems.Count == 0
            ? "no loss, no duplicate, in order"
            : string.Create(CultureInfo.InvariantCulture, $"{problems.Count} problems: {string.Join("; ", problems.Take(5))}");
        report.AppendLine(CultureInfo.InvariantCulture,
            $"| delivered to the SSE clients (each card's events once, in order, ids as published) | {delivered:N0}{(complete ? "" : " (incomplete after 60 s)")}; {verdict} | = published |");
        report.AppendLine().AppendLine("Latency of the measured events (the warm-up's are left out):").AppendLine();
        report.AppendLine("| from → to | p50 | p95 | p99 | max |");
        report.AppendLine("|---|---|---|---|---|");
        Row(report, "due → parsed by the SSE client (the figure)", run.Due, run.Received, measured);
        Row(report, "publish call → parsed by the SSE client", run.Called, run.Received, measured);
        Row(report, "due → publish call (the benchmark's own scheduling lag)", run.Due, run.Called, measured);
        Row(report, "publish call → acknowledged (Postgres commit + XADD + signal)", run.Called, run.Acked, measured);
        Row(report, "publish call → in-process reader of every card (no HTTP)", run.Called, run.GlobalSeen, measured);
        var figure = Percentile(Latencies(run.Due, run.Received, measured), 0.99);
        report.AppendLine().AppendLine(CultureInfo.InvariantCulture,
            $"Target (issue #6): events from publish to SSE client at {rate:N0}/s, p99 < 100 ms — {(figure < 100 && problems.Count == 0 && complete ? "met" : "NOT met")} (p99 {Ms(figure)}).");
        return report.ToString();
    }

    private static void Row(StringBuilder report, string label, long[] from, long[] to, int[] measured)
    {
        var values = Latencies(from, to, measured);
        if (values.Length == 0)
        {
            report.AppendLine(CultureInfo.InvariantCulture, $"| {label} | — | — | — | — |");
            return;
        }

        report.AppendLine(CultureInfo.InvariantCulture,
            $"| {label} | {Ms(Percentile(values, 0.50))} | {Ms(Percentile(values, 0.95))} | {Ms(Percentile(values, 0.99))} | {Ms(values[^1])} |");
    }

    private static double[] Latencies(long[] from, long[] to, int[] measured)
    {
        var values = measured.Where(i => from[i] != 0 && to[i] != 0).Select(i => (to[i] - from[i]) * 1000.0 / Stopwatch.Frequency).ToArray();
        Array.Sort(values);
        return values;
    }

    private static double Percentile(double[] sorted, double q) =>
        sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(q * sorted.Length) - 1)];

    private static string Ms(double value) => value.ToString("0.0", CultureInfo.InvariantCulture) + " ms";

    private static string LoadAverage()
    {
        try
        {
            return string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static int Option(string[] args, string name, int fallback)
    {
        var at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private sealed record Payload(int Seq);

    /// <summary>What one run saw, by event number: when each was due, called, acknowledged and received.</summary>
    private sealed class Run(int total, int cards)
    {
        private readonly TaskCompletionSource _acknowledged = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _delivered = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly List<string> _problems = [];
        private readonly int[] _nextSeq = Enumerable.Range(0, cards).ToArray();
        private readonly long[] _lastId = new long[cards];
        private readonly long[] _receivedId = new long[total];
        private int _acked;
        private int _failed;
        private int _deliveredCount;
        private int _clients;

        public int Total => total;
        public long[] Due { get; } = new long[total];
        public long[] Called { get; } = new long[total];
        public long[] Acked { get; } = new long[total];
        public long[] Received { get; } = new long[total];
        public long[] GlobalSeen { get; } = new long[total];
        public long[] PublishedId { get; } = new long[total];
        public Task AllAcknowledged => _acknowledged.Task;
        public Task AllDelivered => _delivered.Task;
        public int AcknowledgedCount => Volatile.Read(ref _acked);
        public int FailedCount => Volatile.Read(ref _failed);
        public int DeliveredCount => Volatile.Read(ref _deliveredCount);

        public Task Connected(int count) => Volatile.Read(ref _clients) >= count ? Task.CompletedTask : _connected.Task;

        public void ClientConnected()
        {
            if (Interlocked.Increment(ref _clients) == cards)
            {
                _connected.TrySetResult();
            }
        }

        public void Acknowledged(int seq, Task<CardEvent> done)
        {
            if (done.IsCompletedSuccessfully)
            {
                Acked[seq] = Stopwatch.GetTimestamp();
                PublishedId[seq] = done.Result.Id;
                Interlocked.Increment(ref _acked);
            }
            else
            {
                Interlocked.Increment(ref _failed);
            }

            if (Volatile.Read(ref _acked) + Volatile.Read(ref _failed) == total)
            {
                _acknowledged.TrySetResult();
            }
        }

        /// <summary>Called by card <paramref name="card"/>'s client only, so the per-card state needs no lock.</summary>
        public void Delivered(int card, int seq, long id, bool ofThisCard, long at)
        {
            if (seq != _nextSeq[card] || id <= _lastId[card] || !ofThisCard)
            {
                lock (_problems)
                {
                    _problems.Add($"card {card}: got event {seq} (id {id}) when {_nextSeq[card]} (after id {_lastId[card]}) was next");
                }
            }

            _nextSeq[card] = seq + cards;
            _lastId[card] = id;
            if (seq >= 0 && seq < total && Received[seq] == 0)
            {
                Received[seq] = at;
                _receivedId[seq] = id;
                if (Interlocked.Increment(ref _deliveredCount) == total)
                {
                    _delivered.TrySetResult();
                }
            }
        }

        /// <summary>Every problem: out of order, missing, duplicated, or an id other than the one the publisher returned.</summary>
        public List<string> Verify()
        {
            List<string> problems;
            lock (_problems)
            {
                problems = [.. _problems];
            }

            for (var seq = 0; seq < total; seq++)
            {
                if (Received[seq] == 0)
                {
                    problems.Add($"event {seq} not delivered");
                }
                else if (PublishedId[seq] != 0 && _receivedId[seq] != PublishedId[seq])
                {
                    problems.Add($"event {seq} delivered with id {_receivedId[seq]}, published as {PublishedId[seq]}");
                }
            }

            return problems;
        }
    }
}
