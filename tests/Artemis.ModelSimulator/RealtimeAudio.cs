namespace Artemis.ModelSimulator;

/// <summary>PCM16 mono at 24 kHz, the only format the simulator speaks: a tone for replies and an energy VAD for input.</summary>
public static class RealtimeAudio
{
    public const int SampleRate = 24_000;
    public const int BytesPerMs = SampleRate * 2 / 1000;

    /// <summary>Audio deltas carry 100 ms each.</summary>
    public const int ChunkMs = 100;

    /// <summary>The VAD looks at 10 ms frames.</summary>
    public const int VadFrameSamples = SampleRate / 100;

    private const double ToneHz = 440;
    private const double ToneAmplitude = 0.25;

    /// <summary>
    /// A 440 Hz tone, <paramref name="sampleCount"/> samples from sample <paramref name="start"/> of the reply, so
    /// consecutive chunks join without a click.
    /// </summary>
    public static byte[] Tone(long start, int sampleCount)
    {
        var bytes = new byte[sampleCount * 2];
        for (var i = 0; i < sampleCount; i++)
        {
            var value = (short)(Math.Sin(2 * Math.PI * ToneHz * (start + i) / SampleRate) * ToneAmplitude * short.MaxValue);
            bytes[2 * i] = (byte)value;
            bytes[2 * i + 1] = (byte)(value >> 8);
        }

        return bytes;
    }

    /// <summary>Root mean square of PCM16 little-endian samples, as a fraction of full scale (0–1).</summary>
    public static double Rms(ReadOnlySpan<byte> pcm)
    {
        var samples = pcm.Length / 2;
        if (samples == 0)
        {
            return 0;
        }

        double sum = 0;
        for (var i = 0; i < samples; i++)
        {
            double sample = (short)(pcm[2 * i] | (pcm[2 * i + 1] << 8));
            sum += sample * sample;
        }

        return Math.Sqrt(sum / samples) / 32768.0;
    }

    public static int Milliseconds(long bytes) => (int)(bytes / BytesPerMs);
}

/// <summary>
/// Server VAD over 10 ms frames: a frame is speech when its RMS reaches <c>threshold × 0.1</c> of full scale (so the
/// default threshold 0.5 means about −26 dBFS). Speech starts at the first speech frame (reported
/// <c>prefix_padding_ms</c> earlier) and stops after <c>silence_duration_ms</c> of frames below it.
/// </summary>
public sealed class EnergyVad
{
    private readonly byte[] _frame = new byte[RealtimeAudio.VadFrameSamples * 2];
    private int _filled;
    private long _frames;
    private int _silentMs;

    public bool Speaking { get; private set; }

    public void Reset()
    {
        Speaking = false;
        _silentMs = 0;
    }

    /// <summary>Feeds audio; reports each start (with its audio_start_ms) and stop (with its audio_end_ms).</summary>
    public void Feed(ReadOnlySpan<byte> pcm, double threshold, int prefixPaddingMs, int silenceDurationMs, List<VadEvent> events)
    {
        while (pcm.Length > 0)
        {
            var take = Math.Min(_frame.Length - _filled, pcm.Length);
            pcm[..take].CopyTo(_frame.AsSpan(_filled));
            _filled += take;
            pcm = pcm[take..];
            if (_filled < _frame.Length)
            {
                return;
            }

            _filled = 0;
            var startMs = (int)(_frames * 10);
            _frames++;
            var voiced = RealtimeAudio.Rms(_frame) >= threshold * 0.1;
            if (!Speaking)
            {
                if (voiced)
                {
                    Speaking = true;
                    _silentMs = 0;
                    events.Add(new VadEvent(true, Math.Max(0, startMs - prefixPaddingMs)));
                }

                continue;
            }

            _silentMs = voiced ? 0 : _silentMs + 10;
            if (_silentMs >= silenceDurationMs)
            {
                Speaking = false;
                events.Add(new VadEvent(false, startMs + 10));
            }
        }
    }
}

public readonly record struct VadEvent(bool Started, int AudioMs);
