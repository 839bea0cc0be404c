using NAudio.Wave;
using NAudio.Wave.SampleProviders;

namespace Artemis.Agents.Voice;

/// <summary>
/// The browser's microphone audio on its way upstream: PCM16 mono frames, checked, and resampled to 24 kHz with
/// NAudio's WDL resampler when the browser captures at another rate (an AudioContext often runs at 44.1 or 48 kHz).
/// The resampler keeps its state between frames, so a stream of frames resamples as one signal.
/// </summary>
public sealed class PcmInput
{
    public const int SampleRate = 24_000;
    public const int MinSampleRate = 8_000;
    public const int MaxSampleRate = 96_000;

    private readonly BufferedWaveProvider? _source;
    private readonly WdlResamplingSampleProvider? _resampled;
    private readonly float[] _floats = new float[SampleRate];

    public PcmInput(int sampleRate)
    {
        if (sampleRate is < MinSampleRate or > MaxSampleRate)
        {
            throw new ArgumentOutOfRangeException(nameof(sampleRate), sampleRate, $"between {MinSampleRate} and {MaxSampleRate} Hz");
        }

        InputRate = sampleRate;
        if (sampleRate == SampleRate)
        {
            return;
        }

        _source = new BufferedWaveProvider(new WaveFormat(sampleRate, 16, 1), TimeSpan.FromSeconds(5)) { ReadFully = false };
        _resampled = new WdlResamplingSampleProvider(new Pcm16BitToSampleProvider(_source), SampleRate);
    }

    public int InputRate { get; }

    /// <summary>Bytes of 24 kHz audio produced so far.</summary>
    public long OutputBytes { get; private set; }

    /// <summary>The frame as 24 kHz PCM16 (the same array when no resampling is needed).</summary>
    public byte[] Convert(byte[] frame)
    {
        if (_source is null)
        {
            OutputBytes += frame.Length;
            return frame;
        }

        _source.AddSamples(frame, 0, frame.Length);
        using var output = new MemoryStream(frame.Length * SampleRate / InputRate + 64);
        int read;
        while ((read = _resampled!.Read(_floats.AsSpan())) > 0)
        {
            for (var i = 0; i < read; i++)
            {
                var sample = (short)Math.Clamp(_floats[i] * 32768f, short.MinValue, short.MaxValue);
                output.WriteByte((byte)sample);
                output.WriteByte((byte)(sample >> 8));
            }
        }

        OutputBytes += output.Length;
        return output.ToArray();
    }
}
