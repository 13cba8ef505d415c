// QR decoding worker of the phone scanner (/scan): a module Worker around zxing-wasm (zxing-cpp in
// WebAssembly) with the cheap, high-yield passes of the desktop scanner (scanner/decode.py, see
// docs/decoding.md and docs/decoding-phone.md for what each pass reads and what it costs).
//
// Message contract (the /scan page and the benchmark harness use the same one):
//   {id}                    -> {id, texts: [], info: {...}}   once the decoder is ready ("hello")
//   {id, imageData}         -> {id, texts: ["...", ...], ms}   texts of every QR code read in the frame
//   any failure             -> {id, texts: [], error: "..."}
// Unknown fields (e.g. a later `hint`) are ignored. `ms` is the decode time inside the worker
// (grey conversion included). Only symbols zxing reports as valid and error-free are returned: a
// wrong text is worse than none, the camera sends another frame 33-66 ms later.
//
// Everything is loaded from this origin, relative to this file (no CDN): the zxing-wasm ES module
// build in ./vendor/zxing-wasm/ (share.js + reader/index.js) and its .wasm in
// ./vendor/zxing-wasm/reader/zxing_reader.wasm (copied there from node_modules/zxing-wasm/dist by the
// app's install step, pinned by package-lock.json).
import {
  prepareZXingModule, readBarcodes, defaultReaderOptions, encodeFormats,
  BINARIZERS, EAN_ADD_ON_SYMBOLS, TEXT_MODES, CHARACTER_SETS, ZXING_WASM_VERSION,
} from "./vendor/zxing-wasm/reader/index.js";

const WASM_URL = new URL("./vendor/zxing-wasm/reader/zxing_reader.wasm", import.meta.url).href;

// ---------------------------------------------------------------------------------------------
// Tuning (generic, not fitted to one frame set; see docs/decoding-phone.md)
// ---------------------------------------------------------------------------------------------
// Later passes start only while the frame has used less than this (wall clock, performance.now();
// a worker has no CPU-time clock). The cascade is short, so on this benchmark's machine no frame
// reaches it; it bounds the crop retries of crowded frames and slow devices.
const BUDGET_MS = 30;
// ... and a whole-frame fallback starts only if it is also expected to end within this, from its
// measured cost per pixel on this device (warm-up and previous frames): even on a phone 3x slower
// than the benchmark machine, a frame then leaves room for >= 15 decoded frames per second.
const FRAME_MS = 60;
// At most this many located-but-unread symbols get crop retries per frame.
const MAX_CROPS = 6;
// Crops with a longer side than this are not upscaled (big crops hold big modules).
const MAX_UPSCALE_SIDE = 240;

// ---------------------------------------------------------------------------------------------
// zxing-wasm
// ---------------------------------------------------------------------------------------------
let mod = null;          // the Emscripten module (for the direct grey-pixmap path), or null
let heapPtr = 0, heapSize = 0;

// The first pass: QR only. tryRotate only matters for 1-D codes and tryInvert for white-on-black
// codes (our labels are printed black on white): both off save ~10 %. tryHarder and tryDownscale
// stay on (off is worse: downscaling is what reads heavy sensor noise). returnErrors: symbols
// zxing located but could not read come back with an error; their positions are crop candidates.
const FIRST = { formats: ["QRCode"], tryHarder: true, tryRotate: false, tryInvert: false, tryDownscale: true,
  returnErrors: true, maxNumberOfSymbols: 255 };
// Fallback passes on preprocessed frames: no downscale (the preprocessing already decided the scale).
const PLAIN = { ...FIRST, tryDownscale: false };
const GLOBAL = { ...PLAIN, binarizer: "GlobalHistogram" };
// For frames that are already binary (our local threshold): any threshold reproduces them exactly.
const BINARY = { ...PLAIN, binarizer: "FixedThreshold" };

// readerOptions -> the encoded form the wasm binding takes (what zxing-wasm's readBarcodes does
// internally), computed once per option set.
const encCache = new Map();
function encode(opts) {
  let e = encCache.get(opts);
  if (!e) {
    const o = { ...defaultReaderOptions, ...opts };
    e = { ...o, formats: encodeFormats(o.formats), binarizer: BINARIZERS.indexOf(o.binarizer),
      eanAddOnSymbol: EAN_ADD_ON_SYMBOLS.indexOf(o.eanAddOnSymbol), textMode: TEXT_MODES.indexOf(o.textMode),
      characterSet: CHARACTER_SETS.indexOf(o.characterSet), tryCode39ExtendedMode: true };
    encCache.set(opts, e);
  }
  return e;
}

// Decode a grey image (Uint8Array, w*h). Returns [{text|null, quad: [x0,y0,...,x3,y3]}].
// Direct path: the grey pixels go straight into the wasm heap (readBarcodes(ImageData) would need
// RGBA and convert it to grey again on every pass). Fallback for other zxing-wasm builds: an RGBA
// ImageData through the public readBarcodes.
async function zx(gray, w, h, opts) {
  let raw;
  if (mod) {
    const n = w * h;
    if (n > heapSize) {
      if (heapPtr) mod._free(heapPtr);
      heapPtr = mod._malloc(n); heapSize = n;
      if (!heapPtr) { heapSize = 0; throw new Error(`wasm malloc of ${n} bytes failed`); }
    }
    mod.HEAPU8.set(gray.subarray(0, n), heapPtr);   // HEAPU8 read after malloc: memory may have grown
    const vec = mod.readBarcodesFromPixmap(heapPtr, w, h, encode(opts));
    raw = [];
    try { for (let i = 0, k = vec.size(); i < k; i++) raw.push(vec.get(i)); } finally { vec.delete(); }
  } else {
    const rgba = new Uint8ClampedArray(w * h * 4);
    const u32 = new Uint32Array(rgba.buffer);
    for (let i = 0; i < w * h; i++) u32[i] = 0xff000000 | (gray[i] * 0x010101);
    raw = await readBarcodes(new ImageData(rgba, w, h), opts);
  }
  return raw.map((r) => {
    const p = r.position;
    return { text: r.isValid && !r.error && r.text ? r.text : null,
      quad: [p.topLeft.x, p.topLeft.y, p.topRight.x, p.topRight.y, p.bottomRight.x, p.bottomRight.y,
        p.bottomLeft.x, p.bottomLeft.y] };
  });
}

// ---------------------------------------------------------------------------------------------
// Grey pixel operations on typed arrays. JavaScript touches a pixel in ~1-4 ns, so every pass over a
// 1280x720 frame costs 1-5 ms: the ops below are written to touch each pixel as few times as they can.
// ---------------------------------------------------------------------------------------------
const bufs = new Map();
function buf(name, n, T = Uint8Array) {   // reusable scratch buffers, one per name
  let b = bufs.get(name);
  if (!b || b.length < n) { b = new T(n); bufs.set(name, b); }
  return b;
}

// RGBA -> grey with zxing-cpp's own weights (what readBarcodes(ImageData) would compute), reading
// one pixel as one little-endian 32-bit word (R in the low byte; every phone CPU is little-endian).
function toGray(rgba, n, out) {
  const u32 = new Uint32Array(rgba.buffer, rgba.byteOffset, n);
  for (let i = 0; i < n; i++) {
    const p = u32[i];
    out[i] = (306 * (p & 255) + 601 * ((p >>> 8) & 255) + 117 * ((p >>> 16) & 255) + 512) >> 10;
  }
  return out;
}

// Box blur of radius r (running sums, O(1) per pixel), src -> dst (may not alias), edges clamped.
// Both passes walk memory in order: the vertical one keeps one running sum per column (a
// column-by-column walk would be ~5x slower on a 1280-wide frame).
function boxBlur(src, dst, w, h, r) {
  const n = w * h;
  if (r <= 0) { dst.set(src.subarray(0, n)); return dst; }
  const tmp = buf("box", n, Uint16Array), col = buf("boxCol", w, Uint32Array);
  const rr = Math.min(r, w - 1);
  for (let y = 0; y < h; y++) {                 // horizontal
    const o = y * w, last = o + w - 1;
    let s = src[o] * (r + 1);
    for (let k = 1; k <= r; k++) s += src[o + Math.min(k, w - 1)];
    let x = 0;
    for (; x <= rr && x < w; x++) { tmp[o + x] = s; s += src[Math.min(o + x + r + 1, last)] - src[o]; }
    for (; x < w - r - 1; x++) { tmp[o + x] = s; s += src[o + x + r + 1] - src[o + x - r]; }
    for (; x < w; x++) { tmp[o + x] = s; s += src[last] - src[o + x - r]; }
  }
  const inv = Math.round(65536 / ((2 * r + 1) * (2 * r + 1)));
  for (let x = 0; x < w; x++) col[x] = tmp[x] * (r + 1);
  for (let k = 1; k <= r; k++) { const o = Math.min(k, h - 1) * w; for (let x = 0; x < w; x++) col[x] += tmp[o + x]; }
  for (let y = 0; y < h; y++) {                 // vertical: one running sum per column
    const o = y * w, add = Math.min(y + r + 1, h - 1) * w, sub = Math.max(y - r, 0) * w;
    for (let x = 0; x < w; x++) {
      const s = col[x];
      dst[o + x] = (s * inv + 32768) >>> 16;
      col[x] = s + tmp[add + x] - tmp[sub + x];
    }
  }
  return dst;
}

// Gaussian blur of sigma s approximated by three box blurs (within a few % of the true kernel).
function gaussBlur(src, dst, w, h, sigma) {
  const t = buf("gauss", w * h);
  const wIdeal = Math.sqrt((12 * sigma * sigma) / 3 + 1);
  let wl = Math.floor(wIdeal); if (wl % 2 === 0) wl--;
  const m = Math.round((12 * sigma * sigma - 3 * wl * wl - 12 * wl - 9) / (-4 * wl - 4));
  const radii = [0, 1, 2].map((i) => ((i < m ? wl : wl + 2) - 1) / 2);
  boxBlur(src, dst, w, h, radii[0]);
  boxBlur(dst, t, w, h, radii[1]);
  return boxBlur(t, dst, w, h, radii[2]);
}

// Unsharp mask: undoes defocus and the blur of 1.5 px modules.
function unsharp(src, dst, w, h, sigma, amount) {
  const bl = gaussBlur(src, buf("usm", w * h), w, h, sigma);
  const a = Math.round(amount * 256), b = 256 + a;
  for (let i = 0, n = w * h; i < n; i++) {
    const v = (src[i] * b - bl[i] * a + 128) >> 8;
    dst[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return dst;
}

// Local threshold: a 3x3 box blur (sensor noise, cardboard fibres) compared with a wide local mean
// (a Gaussian of sigma ~ one module): faint ink, dim light, shadows and uneven light, textured
// backgrounds. zxing's own local binarizer gives up on blocks whose contrast is below 24 grey
// levels; this one has no such floor. Returns a 0/255 image.
// Cost matters (JavaScript, a few ns per pixel and pass): the mean is computed at quarter
// resolution from 4x4 block means, and the 3x3 blur is fused with the
// comparison (three rows of horizontal sums in a ring). Sums stay unnormalised (3x3 sum against
// 9 x mean, in floating point): in a deep shadow the code spans a few grey levels, and rounding
// the blur and the mean to integers lost some of those labels.
function blockMeans(gray, w, h) {
  const sw = (w + 3) >> 2, sh = (h + 3) >> 2, small = buf("ltS", sw * sh, Float32Array);
  small.fill(0, 0, sw * sh);
  for (let y = 0; y < h; y++) {
    const o = y * w, so = (y >> 2) * sw;
    let x = 0;
    for (let sx = 0; x + 3 < w; sx++, x += 4) small[so + sx] += gray[o + x] + gray[o + x + 1] + gray[o + x + 2] + gray[o + x + 3];
    for (; x < w; x++) small[so + (x >> 2)] += gray[o + x];
  }
  for (let sy = 0; sy < sh; sy++) {             // sums -> 9 x mean (edge blocks hold fewer pixels)
    const bh = Math.min(4, h - 4 * sy);
    for (let sx = 0; sx < sw; sx++) small[sy * sw + sx] *= 9 / (bh * Math.min(4, w - 4 * sx));
  }
  return small;
}

// Separable Gaussian on a small float image (true kernel, edges clamped via a padded row).
function gaussSmall(src, w, h, sigma) {
  const r = Math.max(1, Math.ceil(3 * sigma)), n = 2 * r + 1, k = new Float32Array(n);
  let t = 0;
  for (let i = -r; i <= r; i++) t += (k[i + r] = Math.exp(-(i * i) / (2 * sigma * sigma)));
  for (let i = 0; i < n; i++) k[i] /= t;
  const tmp = buf("gsT", w * h, Float32Array), dst = buf("gsD", w * h, Float32Array);
  const pad = buf("gsP", Math.max(w, h) + 2 * r, Float32Array);
  for (let y = 0; y < h; y++) {                 // rows
    const o = y * w;
    for (let i = 0; i < r; i++) { pad[i] = src[o]; pad[r + w + i] = src[o + w - 1]; }
    for (let x = 0; x < w; x++) pad[r + x] = src[o + x];
    for (let x = 0; x < w; x++) { let s = 0; for (let i = 0; i < n; i++) s += k[i] * pad[x + i]; tmp[o + x] = s; }
  }
  for (let x = 0; x < w; x++) {                 // columns (small image: strided access is cheap)
    for (let i = 0; i < r; i++) { pad[i] = tmp[x]; pad[r + h + i] = tmp[(h - 1) * w + x]; }
    for (let y = 0; y < h; y++) pad[r + y] = tmp[y * w + x];
    for (let y = 0; y < h; y++) { let s = 0; for (let i = 0; i < n; i++) s += k[i] * pad[y + i]; dst[y * w + x] = s; }
  }
  return dst;
}

function localThreshold(gray, dst, w, h, sigma) {
  const sw = (w + 3) >> 2, sh = (h + 3) >> 2;
  const mean = gaussSmall(blockMeans(gray, w, h), sw, sh, sigma / 4);
  const row = buf("ltRow", sw, Float32Array), mrow = buf("ltMRow", w, Float32Array);
  const ring = buf("ltRing", 3 * w, Uint16Array);
  const hsum = (y, slot) => {                   // horizontal 3-sum of row y into ring slot
    const o = y * w, d = slot * w;
    ring[d] = 2 * gray[o] + gray[o + 1];
    for (let x = 1; x < w - 1; x++) ring[d + x] = gray[o + x - 1] + gray[o + x] + gray[o + x + 1];
    ring[d + w - 1] = gray[o + w - 2] + 2 * gray[o + w - 1];
  };
  hsum(0, 0); hsum(Math.min(1, h - 1), 1);
  for (let y = 0; y < h; y++) {
    // ring slots: (y-1) % 3, y % 3, (y+1) % 3, rows clamped at the edges
    if (y + 1 < h && y > 0) hsum(y + 1, (y + 1) % 3);
    const a = (y === 0 ? 0 : (y - 1) % 3) * w, b = (y % 3) * w, c = (y + 1 < h ? (y + 1) % 3 : y % 3) * w;
    // the mean, bilinear back to full size (pixel centres aligned like cv2.resize INTER_LINEAR):
    // vertically into `row`, then horizontally as ramps of 4 pixels
    const fy = Math.max(0, (y + 0.5) / 4 - 0.5), j0 = Math.min(Math.floor(fy), sh - 1);
    const j1 = Math.min(j0 + 1, sh - 1), ty = fy - j0;
    for (let sx = 0; sx < sw; sx++) row[sx] = mean[j0 * sw + sx] + (mean[j1 * sw + sx] - mean[j0 * sw + sx]) * ty;
    mrow[0] = row[0]; if (w > 1) mrow[1] = row[0];
    for (let sx = 0; sx < sw; sx++) {
      const m0 = row[sx], d = (sx + 1 < sw ? row[sx + 1] : m0) - m0, x = 4 * sx + 2;
      if (x < w) mrow[x] = m0 + 0.125 * d;
      if (x + 1 < w) mrow[x + 1] = m0 + 0.375 * d;
      if (x + 2 < w) mrow[x + 2] = m0 + 0.625 * d;
      if (x + 3 < w) mrow[x + 3] = m0 + 0.875 * d;
    }
    const o = y * w;
    for (let x = 0; x < w; x++) dst[o + x] = ring[a + x] + ring[b + x] + ring[c + x] > mrow[x] ? 255 : 0;
  }
  return dst;
}

// Contrast-limited adaptive histogram equalisation (CLAHE, as OpenCV's): each of tiles x tiles
// tiles gets its own clipped-histogram mapping, blended bilinearly between tile centres. Before the
// local threshold it flattens deep cast shadows and glare halos, where a threshold against the
// local mean alone breaks up at the shadow edge. One histogram pass and one mapping pass
// (integer weights, per-column tables).
function clahe(src, dst, w, h, clip, tiles) {
  const tx = tiles, ty = tiles, tw = Math.ceil(w / tx), th = Math.ceil(h / ty);
  const hist = buf("chH", tx * ty * 256, Uint32Array).fill(0, 0, tx * ty * 256);
  const lut = buf("chL", tx * ty * 256);
  const tcol = buf("chC", w, Int32Array);
  for (let x = 0; x < w; x++) tcol[x] = Math.min(tx - 1, (x / tw) | 0) * 256;
  for (let y = 0; y < h; y++) {
    const base = Math.min(ty - 1, (y / th) | 0) * tx * 256, o = y * w;
    for (let x = 0; x < w; x++) hist[base + tcol[x] + src[o + x]]++;
  }
  for (let t = 0; t < tx * ty; t++) {
    const i = t % tx, j = (t / tx) | 0, hb = t * 256;
    const area = Math.max(1, (Math.min(w, (i + 1) * tw) - i * tw) * (Math.min(h, (j + 1) * th) - j * th));
    const lim = Math.max(1, Math.floor((clip * area) / 256));
    let excess = 0;
    for (let k = 0; k < 256; k++) if (hist[hb + k] > lim) { excess += hist[hb + k] - lim; hist[hb + k] = lim; }
    const add = Math.floor(excess / 256), rem = excess - add * 256;
    let s = 0;
    for (let k = 0; k < 256; k++) {
      s += hist[hb + k] + add + (k < rem ? 1 : 0);
      lut[hb + k] = Math.min(255, Math.round((s * 255) / area));
    }
  }
  // per column: left/right tile LUT offsets and the weight of the right one (0..256)
  const c0 = buf("chC0", w, Int32Array), c1 = buf("chC1", w, Int32Array), wx = buf("chWX", w, Int32Array);
  for (let x = 0; x < w; x++) {
    const fx = (x + 0.5) / tw - 0.5, i0 = Math.max(0, Math.min(tx - 1, Math.floor(fx)));
    c0[x] = i0 * 256; c1[x] = Math.min(tx - 1, i0 + 1) * 256;
    wx[x] = Math.round(256 * Math.max(0, Math.min(1, fx - i0)));
  }
  for (let y = 0; y < h; y++) {
    const fy = (y + 0.5) / th - 0.5, j0 = Math.max(0, Math.min(ty - 1, Math.floor(fy)));
    const b0 = j0 * tx * 256, b1 = Math.min(ty - 1, j0 + 1) * tx * 256;
    const wy = Math.round(256 * Math.max(0, Math.min(1, fy - j0))), o = y * w;
    for (let x = 0; x < w; x++) {
      const v = src[o + x], a = wx[x];
      const top = lut[b0 + c0[x] + v] * (256 - a) + lut[b0 + c1[x] + v] * a;
      const bot = lut[b1 + c0[x] + v] * (256 - a) + lut[b1 + c1[x] + v] * a;
      dst[o + x] = (top * (256 - wy) + bot * wy + 32768) >>> 16;
    }
  }
  return dst;
}

// Crop (x0, y0, cw, ch) of a grey image.
function crop(gray, w, x0, y0, cw, ch) {
  const out = new Uint8Array(cw * ch);
  for (let y = 0; y < ch; y++) out.set(gray.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + cw), y * cw);
  return out;
}

// 2x upscale, bilinear (for crops only: small modules).
function up2(src, w, h) {
  const W = 2 * w, H = 2 * h, out = new Uint8Array(W * H);
  for (let Y = 0; Y < H; Y++) {
    let fy = (Y + 0.5) / 2 - 0.5; if (fy < 0) fy = 0;
    const y0 = Math.min(Math.floor(fy), h - 1), y1 = Math.min(y0 + 1, h - 1), ty = fy - y0;
    for (let X = 0; X < W; X++) {
      let fx = (X + 0.5) / 2 - 0.5; if (fx < 0) fx = 0;
      const x0 = Math.min(Math.floor(fx), w - 1), x1 = Math.min(x0 + 1, w - 1), tx = fx - x0;
      const a = src[y0 * w + x0] + (src[y0 * w + x1] - src[y0 * w + x0]) * tx;
      const b = src[y1 * w + x0] + (src[y1 * w + x1] - src[y1 * w + x0]) * tx;
      out[Y * W + X] = a + (b - a) * ty + 0.5;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// The cascade
// ---------------------------------------------------------------------------------------------
function inQuad(q, x, y) {        // point in a convex quad (either winding)
  let sign = 0;
  for (let i = 0; i < 4; i++) {
    const ax = q[2 * i], ay = q[2 * i + 1], bx = q[(2 * i + 2) % 8], by = q[(2 * i + 3) % 8];
    const c = (bx - ax) * (y - ay) - (by - ay) * (x - ax);
    if (c !== 0) { if (sign === 0) sign = Math.sign(c); else if (Math.sign(c) !== sign) return false; }
  }
  return true;
}
const centre = (q) => [(q[0] + q[2] + q[4] + q[6]) / 4, (q[1] + q[3] + q[5] + q[7]) / 4];

class Found {
  constructor() { this.texts = new Set(); this.quads = []; this.cands = []; this.tried = []; }
  add(results, scale = 1, ox = 0, oy = 0) {
    let n = 0;
    for (const r of results) {
      const q = r.quad.map((v, i) => v / scale + (i % 2 ? oy : ox));
      if (r.text) { this.quads.push(q); if (!this.texts.has(r.text)) { this.texts.add(r.text); n++; } }
      else this.cands.push(q);
    }
    return n;
  }
  // candidates inside no decoded code, no crop already tried and no earlier candidate (one crop
  // per symbol: a blurred symbol is often located several times)
  unread() {
    const out = [];
    for (const q of this.cands) {
      const [x, y] = centre(q);
      if (this.quads.some((d) => inQuad(d, x, y)) || this.tried.some((s) => inQuad(s, x, y))
        || out.some((s) => inQuad(s, x, y))) continue;
      out.push(q);
    }
    return out;
  }
}

// Whole-frame fallbacks for a frame where nothing was read, cheapest first; the first that reads
// anything ends the list (each adds the symbols it located to the crop candidates).
const FULL_FRAME_PASSES = [
  // one global threshold (~1 ms): reads some codes the local binarizer breaks up (curved labels)
  ["global", (g) => g, GLOBAL],
  // CLAHE, then a local threshold at sigma ~ one module (~13 ms at 1280x720): faint ink (contrast
  // down to 8 grey levels), dim frames, deep shadows, glare halos, cardboard texture, heavy noise.
  // Alone the local threshold reads most of these; CLAHE first adds the deep shadows and glare.
  ["clahe+local", (g, w, h) => localThreshold(clahe(g, buf("pass2", w * h), w, h, 8, 8), buf("pass", w * h), w, h, 5), BINARY],
];

// Cost of each whole-frame pass in ms per pixel: a moving average over the frames it ran on.
const passCost = new Map();
function learnCost(name, msPerPixel) {
  const c = passCost.get(name);
  passCost.set(name, c === undefined ? msPerPixel : 0.8 * c + 0.2 * msPerPixel);
}

async function decodeFrame(imageData) {
  const t0 = performance.now();
  const late = () => performance.now() - t0 > BUDGET_MS;
  const { width: w, height: h, data } = imageData;
  const gray = toGray(data, w * h, buf("gray", w * h));
  const found = new Found();
  found.add(await zx(gray, w, h, FIRST));
  // Symbols located but unread first: a crop pass costs 1-5 ms where a whole-frame fallback costs
  // 10-20, and blurred or small labels are what the first pass locates and cannot read. Doing these
  // first keeps them within the budget on a slow or busy device (simulated at half speed: 0.947 of
  // the payloads kept instead of 0.936 with the whole-frame passes first).
  await cropPasses(gray, w, h, found, late);
  if (!found.texts.size) {
    // Nothing read: whole-frame passes fix what hits the whole frame (contrast, light, texture).
    for (const [name, prep, opts] of FULL_FRAME_PASSES) {
      const t = performance.now();
      if (late()) break;
      if (t - t0 + (passCost.get(name) || 0) * w * h > FRAME_MS) {
        // lower the estimate a little each time, so one slow measurement cannot disable a pass
        passCost.set(name, 0.9 * passCost.get(name));
        break;
      }
      found.add(await zx(prep(gray, w, h), w, h, opts));
      learnCost(name, (performance.now() - t) / (w * h));
      if (found.texts.size) break;
    }
    await cropPasses(gray, w, h, found, late);   // what those passes located but could not read
  }
  return [...found.texts];
}

// Located but unread: each candidate (at most MAX_CROPS per frame, each tried once) is cropped with
// a margin and retried with passes too slow for a whole frame.
async function cropPasses(gray, w, h, found, late) {
  for (const q of found.unread()) {
    if (found.tried.length >= MAX_CROPS || late()) return;
    let x0 = Math.min(q[0], q[2], q[4], q[6]), x1 = Math.max(q[0], q[2], q[4], q[6]);
    let y0 = Math.min(q[1], q[3], q[5], q[7]), y1 = Math.max(q[1], q[3], q[5], q[7]);
    const m = 0.35 * Math.max(x1 - x0, y1 - y0) + 8;    // quiet zone + room for a misplaced guess
    x0 = Math.max(0, Math.floor(x0 - m)); y0 = Math.max(0, Math.floor(y0 - m));
    x1 = Math.min(w, Math.ceil(x1 + m + 1)); y1 = Math.min(h, Math.ceil(y1 + m + 1));
    const cw = x1 - x0, ch = y1 - y0;
    if (cw < 16 || ch < 16 || cw * ch > 0.5 * w * h) continue;   // bigger: whole-frame passes cover it
    found.tried.push(q);
    const c = crop(gray, w, x0, y0, cw, ch);
    // unsharp mask (sigma 2): defocus, motion blur, the one blurred label among many
    if (found.add(await zx(unsharp(c, new Uint8Array(cw * ch), cw, ch, 2, 1.5), cw, ch, PLAIN), 1, x0, y0)) continue;
    // 2x upscale + unsharp mask: modules of ~1.5 px (a crop this big holds bigger modules)
    if (Math.max(cw, ch) > MAX_UPSCALE_SIDE || late()) continue;
    const big = up2(c, cw, ch);
    found.add(await zx(unsharp(big, big.slice(), 2 * cw, 2 * ch, 3, 1.5), 2 * cw, 2 * ch, PLAIN), 2, x0, y0);
  }
}

// ---------------------------------------------------------------------------------------------
// Start-up and messages
// ---------------------------------------------------------------------------------------------
// Warm-up and self-test. V8 runs a function in its interpreter or baseline tier until it has been
// hot for a while, and the pixel loops are 2-5x slower there (a first CLAHE + threshold costs
// ~50 ms instead of ~13). The fallbacks only run on frames the first pass cannot read, so without
// this the first hard frames of a session would be slow. A few rounds on a synthetic frame (~0.3 s
// here, before the worker says it is ready) get every pass compiled and let the wasm tier up.
// The frame carries a known QR code (version 1-M, "jejak-selftest", rows as bits): if the direct
// grey-pixmap path cannot read it (a zxing-wasm upgrade changed its internals), the worker falls
// back to the public readBarcodes(ImageData).
const SELFTEST_TEXT = "jejak-selftest";
const SELFTEST_ROWS = [0x1fdb7f, 0x105941, 0x17455d, 0x175b5d, 0x17425d, 0x104841, 0x1fd57f, 0x1600, 0x16ea4b,
  0x1582bd, 0x7f8e3, 0x18172b, 0xf4561, 0x15bc, 0x1fdab4, 0x105f8d, 0x17443e, 0x175502, 0x175f6c, 0x104af1, 0x1fd244];

function syntheticFrame(w, h) {
  const rgba = new Uint8ClampedArray(w * h * 4), u32 = new Uint32Array(rgba.buffer);
  const px = 5, side = (21 + 8) * px, qx = (w - side) >> 1, qy = (h - side) >> 1;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let v = ((x >> 3) ^ (y >> 3)) & 1 ? 40 + (x >> 4) : 200 - (y >> 3);   // checkerboard on gradients
    const mx = Math.floor((x - qx) / px) - 4, my = Math.floor((y - qy) / px) - 4;
    if (x >= qx && x < qx + side && y >= qy && y < qy + side) {           // the code with its quiet zone
      v = mx >= 0 && mx < 21 && my >= 0 && my < 21 && (SELFTEST_ROWS[my] >> (20 - mx)) & 1 ? 30 : 220;
    }
    u32[y * w + x] = 0xff000000 | (v * 0x010101);
  }
  return rgba;
}

async function warmUp() {
  const reads = async (w, h) => (await zx(toGray(syntheticFrame(w, h), w * h, buf("gray", w * h)), w, h, FIRST))
    .some((r) => r.text === SELFTEST_TEXT);
  let selfTest = mod && (await reads(640, 360).catch(() => false)) ? "grey pixmap" : null;
  if (!selfTest) { mod = null; selfTest = (await reads(640, 360)) ? "readBarcodes(ImageData)" : null; }
  if (!selfTest) throw new Error(`self-test: zxing-wasm ${ZXING_WASM_VERSION} did not read a rendered QR code`);
  // two rounds at 1280x720, then cheaper ones at 640x360 (tier-up counts calls and loop iterations)
  for (const [w, h] of [[1280, 720], [1280, 720], [640, 360], [640, 360], [640, 360], [640, 360], [640, 360], [640, 360]]) {
    const g = toGray(syntheticFrame(w, h), w * h, buf("gray", w * h));
    await zx(g, w, h, FIRST);
    for (const [name, prep, opts] of FULL_FRAME_PASSES) {
      const t = performance.now();
      await zx(prep(g, w, h), w, h, opts);
      if (w === 1280) passCost.set(name, (performance.now() - t) / (w * h));   // kept: the 2nd (warm) round
    }
    const c = crop(g, w, 100, 100, 200, 200);
    await zx(unsharp(c, new Uint8Array(c.length), 200, 200, 2, 1.5), 200, 200, PLAIN);
    const big = up2(c, 200, 200);
    await zx(unsharp(big, big.slice(), 400, 400, 3, 1.5), 400, 400, PLAIN);
  }
  return selfTest;
}

const ready = (async () => {
  // zxing-wasm fetches its .wasm from a CDN by default: point it at our own copy.
  const m = await prepareZXingModule({
    overrides: { locateFile: (path, prefix) => (path.endsWith(".wasm") ? WASM_URL : prefix + path) },
    fireImmediately: true,
  });
  mod = m && typeof m.readBarcodesFromPixmap === "function" && typeof m._malloc === "function" ? m : null;
  const t = performance.now();
  const path = await warmUp();
  return { lib: `zxing-wasm ${ZXING_WASM_VERSION}`, path, warmUpMs: Math.round(performance.now() - t),
    budgetMs: BUDGET_MS, passes: ["first", ...FULL_FRAME_PASSES.map((p) => p[0]), "crop-usm", "crop-up2-usm"] };
})();

// Frames are decoded one at a time in arrival order (a message chain), so a frame posted while the
// previous one is being decoded waits instead of interleaving with it on the shared wasm buffers.
let chain = Promise.resolve();
self.onmessage = (e) => {
  const msg = e.data || {};
  const { id, imageData } = msg;
  chain = chain.then(async () => {
    try {
      const info = await ready;
      if (!imageData) return self.postMessage({ id, texts: [], info });
      const t0 = performance.now();
      const texts = await decodeFrame(imageData);
      self.postMessage({ id, texts, ms: performance.now() - t0 });
    } catch (err) {
      const error = String((err && err.message) || err);
      // a failed start answers the hello too, marked unavailable (the page can show it)
      self.postMessage(imageData ? { id, texts: [], error } : { id, texts: [], error, info: { available: false, error } });
    }
  });
};
