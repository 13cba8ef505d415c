// Sound and vibration for a verdict: green one short high beep, amber two beeps, red a long low buzz
// (the sounds of jejak-scan). Audio needs one user gesture first on phones: unlock() on any tap.

let ctx = null;

export function unlock() {
  try {
    if (!ctx) ctx = new (window.AudioContext || window.webkitAudioContext)();
    if (ctx.state === "suspended") ctx.resume();
  } catch { ctx = null; }
}

function tone(freq, start, duration, type = "sine") {
  const osc = ctx.createOscillator(), gain = ctx.createGain();
  osc.type = type; osc.frequency.value = freq;
  gain.gain.setValueAtTime(0.0001, ctx.currentTime + start);
  gain.gain.exponentialRampToValueAtTime(0.5, ctx.currentTime + start + 0.01);
  gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + start + duration);
  osc.connect(gain).connect(ctx.destination);
  osc.start(ctx.currentTime + start); osc.stop(ctx.currentTime + start + duration + 0.02);
}

const PATTERNS = {
  accepted: { tones: [[1760, 0, 0.12]], vibrate: [80] },
  rescan: { tones: [[880, 0, 0.12], [880, 0.2, 0.12]], vibrate: [80, 80, 80] },
  unchecked: { tones: [[880, 0, 0.12], [880, 0.2, 0.12]], vibrate: [80, 80, 80] },
  warning: { tones: [[880, 0, 0.12], [880, 0.2, 0.12]], vibrate: [80, 80, 80] },
  problem: { tones: [[220, 0, 0.7, "square"]], vibrate: [600] },
};

export function signal(kind, { sound = true } = {}) {
  const p = PATTERNS[kind] || PATTERNS.problem;
  if (sound && ctx && ctx.state === "running") {
    try { for (const [f, s, d, type] of p.tones) tone(f, s, d, type); } catch { /* no sound device */ }
  }
  if (navigator.vibrate) { try { navigator.vibrate(p.vibrate); } catch { /* not allowed */ } }
}
