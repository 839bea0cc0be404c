using System.Collections.Concurrent;
using System.Net.WebSockets;

namespace Artemis.Agents.Voice;

/// <summary>
/// The open voice sessions. When the service stops, each is ended with "going away" (1001) and its in-flight usage
/// settled before the host moves on; the newest ended sessions are kept with their close reasons for diagnosis.
/// </summary>
public sealed class VoiceSessions(IHostApplicationLifetime lifetime, ILogger<VoiceSessions> logger) : IHostedService
{
    public const string ShutdownReason = "the service is shutting down";

    private const int KeptEnded = 200;

    private readonly ConcurrentDictionary<string, (VoiceSession Session, Task Run)> _open = new();
    private readonly ConcurrentQueue<EndedVoiceSession> _ended = new();
    private CancellationTokenRegistration _stopping;

    public int OpenCount => _open.Count;

    public IReadOnlyList<EndedVoiceSession> Ended => [.. _ended];

    public Task StartAsync(CancellationToken cancellationToken)
    {
        _stopping = lifetime.ApplicationStopping.Register(EndAll);
        return Task.CompletedTask;
    }

    /// <summary>Waits for the sessions to close and settle, as long as the host's shutdown allows.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        EndAll();
        await Task.WhenAll(_open.Values.Select(open => open.Run)).WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        await _stopping.DisposeAsync();
    }

    /// <summary>Runs a session to its end, registered while it runs.</summary>
    public async Task RunAsync(VoiceSession session, CancellationToken cancellationToken)
    {
        var run = session.RunAsync(cancellationToken);
        _open[session.Id] = (session, run);
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            session.End(WebSocketCloseStatus.EndpointUnavailable, ShutdownReason);
        }

        try
        {
            await run;
        }
        finally
        {
            _open.TryRemove(session.Id, out _);
            _ended.Enqueue(new EndedVoiceSession(session.Id, session.CloseStatus, session.CloseReason ?? "", session.SessionUsd));
            while (_ended.Count > KeptEnded)
            {
                _ended.TryDequeue(out _);
            }

            VoiceLog.SessionEnded(logger, session.Id, (int)session.CloseStatus, session.CloseReason ?? "", session.SessionUsd);
        }
    }

    private void EndAll()
    {
        if (!_open.IsEmpty)
        {
            VoiceLog.ClosingForShutdown(logger, _open.Count);
        }

        foreach (var (session, _) in _open.Values)
        {
            session.End(WebSocketCloseStatus.EndpointUnavailable, ShutdownReason);
        }
    }
}

public sealed record EndedVoiceSession(string Id, WebSocketCloseStatus Status, string Reason, decimal Usd);
