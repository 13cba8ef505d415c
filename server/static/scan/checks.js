// Offline checks of a scanned text: the JavaScript port of labels/payload.py (parse, verify,
// verification code, manual entry) and scanner/checks.py (the verdict rules of jejak-scan).
// docs/label-format.md is the contract: J1.<KEY>.<PACKAGE>.<TYPE>.<DEST>.<DAPIL>.<QTY>.<VER>.<SIG>,
// the signature is Ed25519 over the ASCII bytes of everything before the last ".".

export const MARKER = "J1";
const SIGNATURE_LENGTH = 103;
const MAX_LENGTH = 400;
const ID = "[0-9A-Z](?:[0-9A-Z-]{0,38}[0-9A-Z])?";
const RULES = {
  key_id: /^[A-Z2-7]{8}$/,
  package_id: new RegExp(`^${ID}$`),
  item_type: /^[A-Z][0-9A-Z-]{0,15}$/,
  destination: /^[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?$/,
  dapil: /^(?:[0-9A-Z](?:[0-9A-Z-]{0,30}[0-9A-Z])?)?$/,
  quantity: /^[1-9][0-9]{0,6}$/,
  version: /^[1-9][0-9]{0,3}$/,
  // the last base32 character carries 2 bits and 3 zero pad bits: only A, I, Q, Y are canonical
  signature: new RegExp(`^[A-Z2-7]{${SIGNATURE_LENGTH - 1}}[AIQY]$`),
};
const FIELDS = ["key_id", "package_id", "item_type", "destination", "dapil", "quantity", "version", "signature"];
const MANUAL = new RegExp(`^\\s*(${ID})\\s*[\\s/:]\\s*([A-Z2-7]{4})-?([A-Z2-7]{4})\\s*$`);

export class PayloadError extends Error {}

// Reasons are {k, ...params}: rendered in the page's language by i18n.js, kept so in the outbox.
const R = (k, params = {}) => ({ k, ...params });

/** Split a scanned text into its fields, checking the shape (not the signature). */
export function parse(text) {
  if (typeof text !== "string") throw new PayloadError("not_text");
  if (text.length > MAX_LENGTH) throw new PayloadError("too_long");
  const cleaned = text.trim().toUpperCase();
  if (!cleaned) throw new PayloadError("empty");
  const parts = cleaned.split(".");
  if (parts[0] !== MARKER) throw new PayloadError("not_label");
  if (parts.length !== FIELDS.length + 1) throw new PayloadError("fields");
  const v = {};
  FIELDS.forEach((name, i) => { v[name] = parts[i + 1]; });
  for (const name of FIELDS) if (!RULES[name].test(v[name])) throw new PayloadError("field:" + name);
  const signed = [MARKER, v.key_id, v.package_id, v.item_type, v.destination, v.dapil, v.quantity, v.version].join(".");
  return { keyId: v.key_id, packageId: v.package_id, itemType: v.item_type, destination: v.destination,
           dapil: v.dapil, quantity: Number(v.quantity), version: Number(v.version), signature: v.signature,
           signed, text: signed + "." + v.signature };
}

/** Split a hand-typed "PACKAGE-ID XXXX-XXXX" entry into [packageId, "XXXX-XXXX"], or null. */
export function parseManualEntry(text) {
  if (typeof text !== "string" || text.trim().toUpperCase().startsWith("J1.")) return null;
  const m = MANUAL.exec(text.toUpperCase());
  return m ? [m[1], `${m[2]}-${m[3]}`] : null;
}

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 without padding -> bytes. */
export function b32decode(text) {
  const out = [];
  let bits = 0, value = 0;
  for (const ch of text) {
    const i = B32.indexOf(ch);
    if (i < 0) throw new PayloadError("base32");
    value = (value << 5) | i; bits += 5;
    if (bits >= 8) { bits -= 8; out.push((value >>> bits) & 0xff); }
  }
  return new Uint8Array(out);
}

/** bytes -> RFC 4648 base32 without padding. */
export function b32encode(bytes) {
  let out = "", bits = 0, value = 0;
  for (const b of bytes) {
    value = (value << 8) | b; bits += 8;
    while (bits >= 5) { bits -= 5; out += B32[(value >>> bits) & 31]; }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

const SPKI_ED25519 = [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00];

/** The raw 32-byte Ed25519 public key inside a "BEGIN PUBLIC KEY" PEM (SubjectPublicKeyInfo). */
export function pemToRaw(pem) {
  const body = pem.replace(/-----[^-]+-----/g, "").replace(/\s+/g, "");
  const der = Uint8Array.from(atob(body), (c) => c.charCodeAt(0));
  if (der.length !== 44 || SPKI_ED25519.some((b, i) => der[i] !== b)) throw new Error("not an Ed25519 public key");
  return der.slice(12);
}

const ascii = (s) => new TextEncoder().encode(s);
let webCryptoEd25519 = typeof crypto !== "undefined" && crypto.subtle ? null : false; // null: not tried yet
let noble = null;
const importedKeys = new Map();

/** Ed25519 verify: WebCrypto where it exists, else @noble/ed25519 (strict RFC 8032, like OpenSSL). */
export async function ed25519Verify(publicRaw, signature, message) {
  if (webCryptoEd25519 !== false) {
    try {
      const id = b32encode(publicRaw);
      let key = importedKeys.get(id);
      if (!key) {
        key = await crypto.subtle.importKey("raw", publicRaw, { name: "Ed25519" }, false, ["verify"]);
        importedKeys.set(id, key);
      }
      const ok = await crypto.subtle.verify({ name: "Ed25519" }, key, signature, message);
      webCryptoEd25519 = true;
      return ok;
    } catch (err) {
      if (webCryptoEd25519 === true) throw err;
      webCryptoEd25519 = false; // NotSupportedError: this browser has no Ed25519 in WebCrypto
    }
  }
  if (!noble) noble = await import("./vendor/noble-ed25519.js");
  try {
    return await noble.verifyAsync(signature, message, publicRaw, { zip215: false });
  } catch {
    return false;
  }
}

export function ed25519Backend() {
  return webCryptoEd25519 === true ? "webcrypto" : webCryptoEd25519 === false ? "noble" : "untried";
}

/** The code printed under the QR: base32(SHA-256("jejak-vcode:" + signature)[:5]) as XXXX-XXXX. */
export async function verificationCode(signature) {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", ascii("jejak-vcode:" + signature)));
  const code = b32encode(digest.slice(0, 5));
  return code.slice(0, 4) + "-" + code.slice(4);
}

/**
 * Judge one scanned or typed text at a location and action, offline (scanner/checks.py).
 * cache: {keys: Map keyId -> raw public key | null, expected: {location, packages: Map id -> pkg} | null}
 * seenBefore(key) -> Promise<bool>: already scanned here with this action (the outbox).
 * disposition: what the person recorded the package as (ok, damaged, seal_broken).
 * Verdict signal: "accepted" (green); "rescan", "unchecked" (never synced), "warning" (recorded
 * with a problem: damaged, seal broken, count differs) - amber; "problem" (red).  Reasons are
 * kept worst first: the first is the one the screen shows (a forged label reads as forged).
 */
export async function judge(text, { location, action, keys, expected, seenBefore, disposition = "ok" }) {
  const manual = parseManualEntry(text);
  const v = manual ? judgeManual(manual, location, expected)
                   : await judgeLabel(text, location, keys, expected);
  if (DISPOSITION_REASONS[disposition]) v.add("warning", R(DISPOSITION_REASONS[disposition]));
  // Never synced: nothing could be checked against the plan or the keys -> amber, never green.
  if (!keys || !expected) v.add("unchecked", R("never_synced"));
  if (await seenBefore(v.packageId || v.code)) {
    v.rescan = true;
    v.add("rescan", R("already_here", { action }));
  }
  return v;
}

// Worst last; a verdict's signal is its worst reason's, and that reason comes first.
export const SEVERITY = { accepted: 0, rescan: 1, unchecked: 2, warning: 3, problem: 4 };
const DISPOSITION_REASONS = { damaged: "recorded_damaged", seal_broken: "recorded_seal_broken" };

function verdict(code) {
  return {
    signal: "accepted", reasons: [], ranks: [], packageId: null, code, label: null, rescan: false,
    add(signal, r) {
      const rank = SEVERITY[signal];
      let at = this.ranks.findIndex((x) => x < rank);
      if (at < 0) at = this.ranks.length;
      this.ranks.splice(at, 0, rank); this.reasons.splice(at, 0, r);
      if (rank > SEVERITY[this.signal]) this.signal = signal;
    },
    problem(r) { this.add("problem", r); },
    note(r) { this.add("accepted", r); },
  };
}

async function judgeLabel(text, location, keys, expected) {
  const v = verdict(text.trim());
  let label;
  try {
    label = parse(text);
  } catch (err) {
    v.problem(R(err.message === "not_label" ? "not_label" : "malformed", { detail: err.message }));
    return v;
  }
  v.code = label.text; v.label = label; v.packageId = label.packageId;
  const planned = expected ? expected.packages.get(label.packageId) || null : null;
  if (keys) { // else: not checked, never synced (said once, in judge)
    const pub = keys.get(label.keyId);
    if (!pub) {
      v.problem(R("forged_key", { key: label.keyId }));
    } else if (!(await ed25519Verify(pub, b32decode(label.signature), ascii(label.signed)))) {
      v.problem(R("forged_sig"));
    } else if (planned && planned.label_version && label.version < planned.label_version) {
      v.problem(R("superseded", { version: label.version, current: planned.label_version }));
    }
  }
  checkPlace(v, label.packageId, label.destination, planned, location, expected);
  const info = expected ? expected.location : null;
  const dapils = (info && info.dapil) || [];
  if (label.dapil && info && info.level === "tps" && dapils.length && !dapils.includes(label.dapil)) {
    v.problem(R("wrong_dapil", { dapil: label.dapil, dapils: dapils.join(", ") }));
  }
  // A count is read from a label only when the label itself is good.
  if (v.signal !== "problem" && planned && planned.quantity != null && planned.quantity !== label.quantity) {
    v.add("warning", R("count_differs", { label: label.quantity, planned: planned.quantity }));
  }
  return v;
}

function judgeManual([packageId, code], location, expected) {
  const v = verdict(`${packageId} ${code}`);
  v.packageId = packageId;
  v.note(R("manual"));
  const planned = expected ? expected.packages.get(packageId) || null : null;
  if (planned && planned.verification_code && planned.verification_code.toUpperCase() !== code) {
    v.problem(R("vcode_mismatch", { code }));
  }
  checkPlace(v, packageId, planned ? planned.destination : null, planned, location, expected);
  return v;
}

function checkPlace(v, packageId, destination, planned, location, expected) {
  if (destination && !destination.startsWith(location)) {
    v.problem(R("wrong_route", { destination, location }));
    return;
  }
  if (!expected) return; // not checked, never synced (said once, in judge)
  if (!planned) v.problem(R("not_expected", { package: packageId }));
  else if (destination && planned.destination && planned.destination !== destination) {
    v.problem(R("plan_destination", { destination, planned: planned.destination }));
  }
}
