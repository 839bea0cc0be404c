using System.ComponentModel.DataAnnotations;

namespace Artemis.Agents.Voice;

/// <summary>The voice bridge: what the realtime session is told, and the limits that protect the service from a browser.</summary>
public sealed class VoiceOptions
{
    public const string SectionName = "Artemis:Voice";

    public string Instructions { get; set; } =
        "You are Artemis, a voice assistant for a software team. Be brief. Use the tools to read files, list folders, "
        + "show a file to the user (open_file) and create cards for work.";

    public string VoiceName { get; set; } = "alloy";

    /// <summary>
    /// The speech recognition model that gives the user's words as text (e.g. <c>gpt-4o-mini-transcribe</c>); empty,
    /// the default, turns user transcripts off. The provider bills transcription apart from the response: each
    /// utterance's transcription is reserved and priced like a call (ADR 008), so the model needs an audio input price.
    /// </summary>
    public string TranscriptionModel { get; set; } = "";

    /// <summary>Each response's output limit: it bounds the worst case reserved before the response is asked for.</summary>
    [Range(16, 4096)]
    public int MaxOutputTokens { get; set; } = 1024;

    /// <summary>
    /// An upper bound on audio input tokens per second, for worst cases. OpenAI counts about 10 per second of user
    /// audio; twice that keeps the reservation a bound.
    /// </summary>
    [Range(1, 1000)]
    public int AudioTokensPerSecondBound { get; set; } = 20;

    [Range(0.0, 1.0)]
    public double VadThreshold { get; set; } = 0.5;

    [Range(0, 5000)]
    public int VadPrefixPaddingMs { get; set; } = 300;

    [Range(100, 10000)]
    public int VadSilenceDurationMs { get; set; } = 500;

    /// <summary>The largest binary (audio) frame accepted from a browser; 64 KiB is over a second of 24 kHz PCM16.</summary>
    [Range(2, 1024 * 1024)]
    public int MaxAudioFrameBytes { get; set; } = 64 * 1024;

    /// <summary>The largest JSON control message accepted from a browser.</summary>
    [Range(64, 1024 * 1024)]
    public int MaxControlMessageBytes { get; set; } = 4 * 1024;

    /// <summary>Messages waiting for a browser (100 ms of audio each, or an event); when full, the bridge waits.</summary>
    [Range(4, 100_000)]
    public int SendQueueCapacity { get; set; } = 512;

    /// <summary>How long a full send queue may stay full before the browser counts as not reading.</summary>
    [Range(100, 120_000)]
    public int SendStallTimeoutMs { get; set; } = 5000;

    /// <summary>How long an issued voice ticket can be redeemed.</summary>
    [Range(5, 3600)]
    public int TicketLifetimeSeconds { get; set; } = 60;

    /// <summary>How long closing a session may wait for the upstream's last usage report.</summary>
    [Range(100, 60_000)]
    public int SettleTimeoutMs { get; set; } = 3000;
}
