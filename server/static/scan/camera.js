// The camera: rear camera by default, a chooser for the others, the torch where the track has one;
// every new video frame is drawn on a canvas and handed to the decode worker whenever it is idle
// (never queued: a slow phone decodes fewer frames, never older ones).
// Worker contract (decode-worker.js): post {id} -> {id, texts: [], info} when ready;
// post {id, imageData} (buffer transferred) -> {id, texts, ms} or {id, error}.

export class Camera {
  constructor(video, { onTexts, onError, onStats }) {
    this.video = video; this.onTexts = onTexts; this.onError = onError || (() => {});
    this.onStats = onStats || (() => {});
    this.stream = null; this.worker = null; this.busy = false; this.nextId = 1;
    this.stats = { frames: 0, decoded: 0, decodeMs: [], startedAt: 0, info: null, errors: 0 };
    this.canvas = null; this.ctx2d = null; this.running = false; this.frameTime = 0;
  }

  async startWorker() {
    if (this.worker) return;
    this.worker = new Worker(new URL("./decode-worker.js", import.meta.url), { type: "module" });
    const ready = new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("decoder did not start")), 60000);
      this.worker.onmessage = ({ data }) => {
        if (data.id !== 0) return;
        clearTimeout(t);
        this.stats.info = data.info || null;
        // A start-up answer with an error means the decoder could not load (e.g. the wasm
        // was not installed): say so instead of posting frames nobody decodes.
        if (data.error || (data.info && data.info.available === false)) {
          reject(new Error(`decoder not available: ${data.error || "unknown reason"}`));
        } else {
          resolve();
        }
      };
      this.worker.onerror = (e) => { clearTimeout(t); reject(new Error(e.message || "decoder failed")); };
    });
    this.worker.postMessage({ id: 0 });
    await ready;
    this.worker.onmessage = ({ data }) => this.answer(data);
  }

  static async cameras() {
    try { return (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "videoinput"); }
    catch { return []; }
  }

  async start(deviceId = null) {
    this.stop();
    const video = deviceId ? { deviceId: { exact: deviceId } } : { facingMode: { ideal: "environment" } };
    Object.assign(video, { width: { ideal: 1280 }, height: { ideal: 720 } });
    this.stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
    this.video.srcObject = this.stream;
    this.video.muted = true; this.video.playsInline = true;
    await this.video.play();
    await this.startWorker();
    this.running = true; this.stats.startedAt = performance.now();
    this.schedule();
    return this.track();
  }

  stop() {
    this.running = false;
    if (this.stream) for (const t of this.stream.getTracks()) t.stop();
    this.stream = null;
  }

  track() { return this.stream ? this.stream.getVideoTracks()[0] : null; }

  hasTorch() {
    const t = this.track();
    try { return !!(t && t.getCapabilities && t.getCapabilities().torch); } catch { return false; }
  }

  async torch(on) {
    const t = this.track();
    if (t) await t.applyConstraints({ advanced: [{ torch: !!on }] });
  }

  schedule() {
    if (!this.running) return;
    if (this.video.requestVideoFrameCallback) this.video.requestVideoFrameCallback((now, meta) => this.frame(meta));
    else requestAnimationFrame(() => this.frame());
  }

  frame(meta) {
    if (!this.running) return;
    this.stats.frames++;
    // Page clock minus the frame's media time: maps a moment of the video to page time (benchmark).
    if (meta && typeof meta.mediaTime === "number") this.stats.mediaOffset = performance.now() - meta.mediaTime * 1000;
    if (!this.busy && this.video.videoWidth) {
      const w = this.video.videoWidth, h = this.video.videoHeight;
      if (!this.canvas || this.canvas.width !== w || this.canvas.height !== h) {
        this.canvas = typeof OffscreenCanvas !== "undefined" ? new OffscreenCanvas(w, h)
                                                              : Object.assign(document.createElement("canvas"), { width: w, height: h });
        this.ctx2d = this.canvas.getContext("2d", { willReadFrequently: true });
      }
      this.ctx2d.drawImage(this.video, 0, 0, w, h);
      const imageData = this.ctx2d.getImageData(0, 0, w, h);
      this.busy = true; this.frameTime = performance.now();
      this.worker.postMessage({ id: this.nextId++, imageData }, [imageData.data.buffer]);
    }
    this.schedule();
  }

  answer(data) {
    this.busy = false;
    if (data.error) { this.stats.errors++; return; }
    this.stats.decoded++;
    if (typeof data.ms === "number") {
      this.stats.decodeMs.push(data.ms);
      if (this.stats.decodeMs.length > 600) this.stats.decodeMs.splice(0, 300);
    }
    this.onTexts(data.texts || [], this.frameTime);
    this.onStats(this.stats);
  }
}
