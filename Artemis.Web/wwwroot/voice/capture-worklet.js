// The microphone's samples as PCM16 mono at 24 kHz, in 20 ms frames, with each frame's level (RMS, 0..1).
// The AudioContext runs at 24 kHz where the browser allows it; otherwise (a context at the device's 44.1 or 48 kHz)
// this resamples by linear interpolation, carrying the fractional position and the last sample across blocks so that
// the stream is resampled as one signal. Speech has little energy above 12 kHz, so no extra low-pass is applied.
class Pcm16Capture extends AudioWorkletProcessor {
  constructor(options) {
    super();
    const settings = (options && options.processorOptions) || {};
    this.targetRate = settings.targetRate || 24000;
    this.frameSamples = Math.round((this.targetRate * (settings.frameMs || 20)) / 1000);
    this.step = sampleRate / this.targetRate; // input samples per output sample (sampleRate: the context's)
    this.position = 0; // where the next output sample lies, in input samples from the start of the next block
    this.previous = 0; // the previous block's last sample, for a position between two blocks
    this.frame = new Int16Array(this.frameSamples);
    this.filled = 0;
    this.sumSquares = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel || channel.length === 0) {
      return true;
    }

    const last = channel.length - 1;
    let position = this.position;
    while (position <= last) {
      const index = Math.floor(position);
      const fraction = position - index;
      const a = index < 0 ? this.previous : channel[index];
      const b = index + 1 <= last ? channel[index + 1] : a;
      this.push(a + (b - a) * fraction);
      position += this.step;
    }

    this.position = position - channel.length;
    this.previous = channel[last];
    return true;
  }

  push(value) {
    const sample = Math.max(-1, Math.min(1, value));
    this.sumSquares += sample * sample;
    this.frame[this.filled++] = sample < 0 ? sample * 0x8000 : sample * 0x7fff;
    if (this.filled === this.frameSamples) {
      const pcm = this.frame.buffer;
      this.port.postMessage({ pcm, level: Math.sqrt(this.sumSquares / this.frameSamples) }, [pcm]);
      this.frame = new Int16Array(this.frameSamples);
      this.filled = 0;
      this.sumSquares = 0;
    }
  }
}

registerProcessor("pcm16-capture", Pcm16Capture);
