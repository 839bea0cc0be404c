using System.ComponentModel.DataAnnotations;

namespace Artemis.Agents.Messaging;

/// <summary>The Redis event stream and how live readers follow it.</summary>
public sealed class MessagingOptions
{
    public const string SectionName = "Artemis:Messaging";

    /// <summary>
    /// Entries kept in the Redis stream (trimmed approximately, <c>MAXLEN ~</c>). Postgres keeps every event; the
    /// stream only has to cover what live readers have not read yet, and a reader that falls further behind catches
    /// up from Postgres.
    /// </summary>
    [Range(100, 10_000_000)]
    public int StreamMaxLength { get; set; } = 10_000;

    /// <summary>
    /// Readers are woken by a pub/sub signal after each publish; this is how often they look anyway, in case a
    /// signal was lost (a reconnect of the subscription).
    /// </summary>
    [Range(10, 60_000)]
    public int PollMilliseconds { get; set; } = 1_000;

    /// <summary>Most entries a live reader takes from the stream at once; a full batch means it is behind.</summary>
    [Range(10, 10_000)]
    public int ReadBatchSize { get; set; } = 500;

    /// <summary>Most queued events written in one transaction (and one Redis round trip).</summary>
    [Range(1, 10_000)]
    public int PublishBatchSize { get; set; } = 500;

    /// <summary>
    /// Most live events queued for one reader (an SSE connection) that has not taken them yet. A reader whose queue
    /// fills up is not slowed down or cut off: it catches up from Postgres (<see cref="EventHub"/>).
    /// </summary>
    [Range(16, 1_000_000)]
    public int SubscriberQueueLength { get; set; } = 4_096;

    /// <summary>How often an idle SSE connection gets a comment line, so proxies and clients keep it open.</summary>
    [Range(1, 3_600)]
    public int HeartbeatSeconds { get; set; } = 15;
}
