// The Voice page's audio and socket: the microphone through an AudioWorklet (PCM16 mono 24 kHz, 20 ms frames) up
// to /voice/ws (the web relays it to the Agents service's voice bridge), the assistant's PCM16 24 kHz audio down into
// a playback queue, and playback reports for barge-in. Audio never goes through the Blazor circuit: the page (.NET)
// gets the bridge's JSON events and this module's own ("local_…") through OnVoiceEvent, and the level meter is drawn
// here. The browser protocol is the bridge's (docs/decisions/008-voice-bridge.md).

const SampleRate = 24000;
const FrameMs = 20;
const PreRollFrames = 10; // push-to-talk: the 200 ms before the press go up too, so the first syllable is kept
const PlaybackReportMs = 100;

export function create(dotnet, meter) {
  return new VoiceClient(dotnet, meter);
}

class VoiceClient {
  constructor(dotnet, meter) {
    this.dotnet = dotnet;
    this.meter = meter;
    this.mode = "handsfree";
    this.muted = false;
    this.talking = false;
    this.preRoll = [];
    this.socket = null;
    this.context = null;
    this.stream = null;
    this.player = null;
    this.stopping = false;
    this.reportTimer = 0;
    this.level = 0;
    this.levelFrame = 0;
    this.onPointerDown = (event) => {
      if (event.target instanceof Element && event.target.closest("[data-ptt]")) {
        event.preventDefault();
        this.pushToTalk(true);
      }
    };
    this.onPointerUp = () => this.pushToTalk(false);
    this.onKey = (event) => {
      // Space held anywhere but in a text field talks, in push-to-talk mode.
      if (event.code !== "Space" || this.mode !== "ptt" || !this.socket || isTextField(event.target)) {
        return;
      }

      event.preventDefault();
      if (!event.repeat) {
        this.pushToTalk(event.type === "keydown");
      }
    };
    document.addEventListener("pointerdown", this.onPointerDown);
    document.addEventListener("pointerup", this.onPointerUp);
    document.addEventListener("pointercancel", this.onPointerUp);
    document.addEventListener("keydown", this.onKey);
    document.addEventListener("keyup", this.onKey);
  }

  async start(mode) {
    if (this.socket) {
      return;
    }

    this.mode = mode === "ptt" ? "ptt" : "handsfree";
    this.stopping = false;
    this.emit({ type: "local_connecting" });
    if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      this.emit({
        type: "local_mic_error",
        name: "NotSupported",
        message: "This page cannot use a microphone: browsers offer one only to secure pages (https, or http on localhost).",
      });
      return;
    }

    try {
      // Echo cancellation keeps the assistant's voice from the speakers out of a hands-free microphone.
      this.stream = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
    } catch (error) {
      this.emit({ type: "local_mic_error", name: error.name || "Error", message: error.message || String(error) });
      return;
    }

    try {
      await this.startAudio();
    } catch (error) {
      this.releaseAudio();
      this.emit({ type: "local_audio_error", message: error.message || String(error) });
      return;
    }

    this.openSocket();
  }

  async startAudio() {
    let source;
    try {
      this.context = new AudioContext({ sampleRate: SampleRate, latencyHint: "interactive" });
      source = this.context.createMediaStreamSource(this.stream);
    } catch {
      // Some browsers cannot join a microphone to a context at another rate than the device's: the worklet resamples.
      if (this.context) {
        await this.context.close();
      }

      this.context = new AudioContext({ latencyHint: "interactive" });
      source = this.context.createMediaStreamSource(this.stream);
    }

    await this.context.resume();
    await this.context.audioWorklet.addModule(new URL("./capture-worklet.js", import.meta.url));
    const capture = new AudioWorkletNode(this.context, "pcm16-capture", {
      numberOfInputs: 1,
      numberOfOutputs: 1,
      channelCount: 1,
      channelCountMode: "explicit",
      processorOptions: { targetRate: SampleRate, frameMs: FrameMs },
    });
    capture.port.onmessage = (event) => this.onFrame(event.data.pcm, event.data.level);
    // The worklet writes nothing to its output; joined to the destination through silence, it is always pulled.
    const silence = this.context.createGain();
    silence.gain.value = 0;
    source.connect(capture).connect(silence).connect(this.context.destination);
    this.player = new Player(this.context, (itemId, playedMs) => this.send(JSON.stringify({ type: "playback", itemId, playedMs })));
    this.emit({ type: "local_capture", contextRate: this.context.sampleRate, sampleRate: SampleRate });
  }

  openSocket() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const socket = new WebSocket(`${scheme}://${location.host}/voice/ws`);
    socket.binaryType = "arraybuffer";
    this.socket = socket;
    socket.onopen = () => this.emit({ type: "local_open" });
    socket.onmessage = (event) => this.onMessage(event.data);
    socket.onclose = (event) => {
      if (this.socket === socket) {
        this.socket = null;
        this.releaseAudio();
        this.emit({ type: "local_closed", code: event.code, reason: event.reason, wasClean: event.wasClean, byUser: this.stopping });
      }
    };
    this.reportTimer = setInterval(() => this.player && this.player.report(), PlaybackReportMs);
  }

  onMessage(data) {
    if (data instanceof ArrayBuffer) {
      this.player.enqueue(data);
      return;
    }

    let message;
    try {
      message = JSON.parse(data);
    } catch {
      return;
    }

    if (message.type === "audio_start") {
      this.player.begin(message.itemId);
    } else if (message.type === "flush") {
      this.player.flush(message.itemId);
    }

    this.emit(message);
  }

  onFrame(pcm, level) {
    this.showLevel(this.muted ? 0 : level);
    if (this.muted) {
      return;
    }

    if (this.mode === "ptt" && !this.talking) {
      this.preRoll.push(pcm);
      if (this.preRoll.length > PreRollFrames) {
        this.preRoll.shift();
      }

      return;
    }

    this.send(pcm);
  }

  pushToTalk(down) {
    if (this.mode !== "ptt" || this.talking === down || (down && !this.socket)) {
      return;
    }

    this.talking = down;
    if (down) {
      for (const frame of this.preRoll) {
        this.send(frame);
      }
    } else {
      // Let go: the turn is over, whatever the server's voice detection thinks.
      this.send(JSON.stringify({ type: "commit" }));
    }

    this.preRoll = [];
    this.emit({ type: "local_ptt", talking: down });
  }

  setMode(mode) {
    this.mode = mode === "ptt" ? "ptt" : "handsfree";
    this.talking = false;
    this.preRoll = [];
  }

  setMuted(muted) {
    this.muted = !!muted;
  }

  stop() {
    this.stopping = true;
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) {
      this.socket.close(1000, "the user ended the session");
    } else {
      this.releaseAudio();
    }
  }

  dispose() {
    document.removeEventListener("pointerdown", this.onPointerDown);
    document.removeEventListener("pointerup", this.onPointerUp);
    document.removeEventListener("pointercancel", this.onPointerUp);
    document.removeEventListener("keydown", this.onKey);
    document.removeEventListener("keyup", this.onKey);
    const socket = this.socket;
    this.socket = null;
    if (socket && socket.readyState <= WebSocket.OPEN) {
      socket.close(1000, "the user left the page");
    }

    this.releaseAudio();
  }

  send(data) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) {
      this.socket.send(data);
    }
  }

  releaseAudio() {
    clearInterval(this.reportTimer);
    this.reportTimer = 0;
    if (this.player) {
      this.player.flush(null);
      this.player = null;
    }

    if (this.stream) {
      this.stream.getTracks().forEach((track) => track.stop());
      this.stream = null;
    }

    if (this.context) {
      this.context.close().catch(() => {});
      this.context = null;
    }

    this.talking = false;
    this.showLevel(0);
  }

  showLevel(level) {
    this.level = level;
    if (this.levelFrame || !this.meter) {
      return;
    }

    this.levelFrame = requestAnimationFrame(() => {
      this.levelFrame = 0;
      // dBFS from -60 (empty) to 0 (full): speech sits around the middle.
      const db = this.level > 0 ? 20 * Math.log10(this.level) : -60;
      const fill = Math.max(0, Math.min(1, (db + 60) / 60));
      this.meter.style.setProperty("--level", fill.toFixed(3));
      this.meter.dataset.level = Math.round(fill * 100).toString();
    });
  }

  emit(message) {
    this.dotnet.invokeMethodAsync("OnVoiceEvent", JSON.stringify(message)).catch(() => {
      // The circuit is gone (the page was left or reloaded): nothing is listening any more.
    });
  }
}

// The assistant's audio: each binary frame is scheduled right after the previous one on the context's clock. What
// has been heard of an item is what the clock has passed of its frames; the bridge truncates to it on barge-in.
class Player {
  constructor(context, report) {
    this.context = context;
    this.output = context.createGain();
    this.output.connect(context.destination);
    this.reportTo = report;
    this.item = null;
    this.chunks = [];
    this.nextTime = 0;
    this.reported = -1;
  }

  begin(itemId) {
    this.report();
    this.item = itemId;
    this.reported = -1;
  }

  enqueue(data) {
    const samples = new Int16Array(data);
    if (samples.length === 0 || !this.item) {
      return;
    }

    const floats = new Float32Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      floats[i] = samples[i] / 0x8000;
    }

    // An AudioBuffer at 24 kHz plays at the right speed in a context at any rate.
    const buffer = this.context.createBuffer(1, floats.length, SampleRate);
    buffer.copyToChannel(floats, 0);
    const source = this.context.createBufferSource();
    source.buffer = buffer;
    source.connect(this.output);
    const at = Math.max(this.context.currentTime + 0.02, this.nextTime);
    source.start(at);
    this.nextTime = at + buffer.duration;
    const chunk = { item: this.item, source, at, duration: buffer.duration };
    this.chunks.push(chunk);
    source.onended = () => {
      chunk.ended = true;
    };
  }

  playedMs(itemId) {
    const now = this.context.currentTime;
    let seconds = 0;
    for (const chunk of this.chunks) {
      if (chunk.item === itemId) {
        seconds += Math.max(0, Math.min(chunk.duration, now - chunk.at));
      }
    }

    return Math.round(seconds * 1000);
  }

  report() {
    if (!this.item) {
      return;
    }

    const played = this.playedMs(this.item);
    if (played !== this.reported) {
      this.reported = played;
      this.reportTo(this.item, played);
    }

    // Chunks of finished items are no longer needed for the count.
    this.chunks = this.chunks.filter((chunk) => chunk.item === this.item || !chunk.ended);
  }

  // Stops what is queued (of one item, or everything): the user spoke over the assistant.
  flush(itemId) {
    for (const chunk of this.chunks) {
      if (itemId === null || chunk.item === itemId) {
        try {
          chunk.source.stop();
        } catch {
          // Already stopped.
        }
      }
    }

    this.chunks = this.chunks.filter((chunk) => itemId !== null && chunk.item !== itemId);
    if (itemId === null || itemId === this.item) {
      this.item = null;
      this.nextTime = 0;
    }
  }
}

function isTextField(target) {
  return target instanceof Element && !!target.closest("input, textarea, [contenteditable=true], fluent-text-field, fluent-text-area");
}
