// Both parties: this phone's device key and its signed confirmations of a handover.
// The key pair is made at enrolment (a new #token= is a new device, so a new key): WebCrypto
// Ed25519 with a NON-extractable private key kept as a CryptoKey in IndexedDB; where the browser
// has no Ed25519 in WebCrypto, @noble/ed25519 with its 32-byte secret in IndexedDB (the only way
// there). The public half is registered once with POST /api/v1/devices/key. A confirmation signs
// "jejak-confirm-v1:NUMBER:PARTY:DIGEST" (labels/confirmation.py), after checking that the digest
// is the SHA-256 of the canonical content the server sent and that its koli are this phone's list.
import * as store from "./store.js";

const ascii = (s) => new TextEncoder().encode(s);
const hex = (bytes) => [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (bytes) => btoa(String.fromCharCode(...new Uint8Array(bytes)));
let noble = null;

/** The canonical JSON of the ledger (sorted keys, no spaces, ASCII only), as server.ledger.content. */
export function canonical(value) {
  const text = (v) => JSON.stringify(v).replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  if (value === null || typeof value !== "object") return text(value);
  if (Array.isArray(value)) return "[" + value.map(canonical).join(",") + "]";
  return "{" + Object.keys(value).sort().map((k) => text(k) + ":" + canonical(value[k])).join(",") + "}";
}

export async function digestHex(content) {
  return hex(await crypto.subtle.digest("SHA-256", ascii(canonical(content))));
}

/** Make this device's key pair (once per enrolment token) and return {publicKey (base64), backend}. */
export async function ensureKey(token) {
  const have = await store.kvGet("device_key");
  if (have && have.token === token) return have;
  let made;
  try {
    const pair = await crypto.subtle.generateKey({ name: "Ed25519" }, false, ["sign", "verify"]);
    made = { privateKey: pair.privateKey, publicKey: b64(await crypto.subtle.exportKey("raw", pair.publicKey)),
             backend: "webcrypto" };
  } catch {
    if (!noble) noble = await import("./vendor/noble-ed25519.js");
    const secret = noble.utils.randomPrivateKey();
    made = { secret, publicKey: b64(await noble.getPublicKeyAsync(secret)), backend: "noble" };
  }
  const key = { ...made, token, registered: false, made_at: new Date().toISOString() };
  await store.kvPut("device_key", key);
  return key;
}

async function sign(key, message) {
  if (key.backend === "webcrypto") return hex(await crypto.subtle.sign({ name: "Ed25519" }, key.privateKey, message));
  if (!noble) noble = await import("./vendor/noble-ed25519.js");
  return hex(await noble.signAsync(message, key.secret));
}

async function call(method, url, token, body) {
  const r = await fetch(url, { method, cache: "no-store", credentials: "omit",
    headers: { Authorization: `Bearer ${token}`, ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined });
  let answer = null;
  try { answer = await r.json(); } catch { answer = null; }
  return { status: r.status, answer };
}

/** Register the public key (once). Returns null when done, else a reason {k, ...}. Throws offline. */
export async function register(token) {
  const key = await ensureKey(token);
  if (key.registered) return null;
  const { status, answer } = await call("POST", "/api/v1/devices/key", token, { public_key: key.publicKey });
  if (status === 200 || status === 201) { key.registered = true; await store.kvPut("device_key", key); return null; }
  if (status >= 500 || status === 408 || status === 429) throw new Error(`HTTP ${status}`);
  return { k: "key_refused", error: (answer && answer.error && answer.error.message) || `HTTP ${status}` };
}

/** Queue a confirmation of a closed list (the giver's shipment, the receiver's receipt). */
export async function queue(list, name) {
  const c = { id: list.id + ":" + (list.kind === "shipment" ? "giver" : "receiver"), list_id: list.id,
              party: list.kind === "shipment" ? "giver" : "receiver", name: name || "", token: list.token,
              state: "pending", created_at: new Date().toISOString(), seq: store.nextSeq() };
  await store.putConfirmation(c);
  return c;
}

/** Send one pending confirmation whose list the server has numbered: true if one was handled. */
export async function sendOne() {
  for (const c of await store.confirmationsIn("pending")) {
    const list = await store.getList(c.list_id);
    if (!list || list.state !== "sent" || !list.number) continue; // waits for its list's upload
    const refused = await register(c.token);
    if (refused) { Object.assign(c, { state: "rejected", error: refused.error }); await store.putConfirmation(c); return true; }
    const number = list.number;
    const got = await call("GET", `/api/v1/shipments/${number}/digest`, c.token);
    if (got.status >= 500 || got.status === 429) throw new Error(`HTTP ${got.status}`);
    let problem = got.status !== 200 ? ((got.answer && got.answer.error && got.answer.error.message) || `HTTP ${got.status}`) : null;
    if (!problem) {
      const content = got.answer.content || {};
      const side = c.party === "receiver" ? content.receipt : content;
      const theirs = side ? (side.koli || []).map((k) => k.package).sort().join() : null;
      const mine = ((list.server && list.server.koli) || []).slice().sort().join();
      if (await digestHex(content) !== got.answer.digest) problem = "digest";
      else if (theirs !== mine) problem = "koli";
    }
    if (problem) { Object.assign(c, { state: "rejected", error: problem }); await store.putConfirmation(c); return true; }
    const key = await store.kvGet("device_key");
    const signature = await sign(key, ascii(`jejak-confirm-v1:${number}:${c.party}:${got.answer.digest}`));
    const sent = await call("POST", `/api/v1/shipments/${number}/confirmations`, c.token,
      { party: c.party, digest: got.answer.digest, signature, name: c.name, confirmed_at: c.created_at });
    if (sent.status >= 500 || sent.status === 429) throw new Error(`HTTP ${sent.status}`);
    if (sent.status === 200 || sent.status === 201) Object.assign(c, { state: "sent", number, server: sent.answer, error: null });
    else Object.assign(c, { state: "rejected", number, error: (sent.answer && sent.answer.error && sent.answer.error.message) || `HTTP ${sent.status}` });
    await store.putConfirmation(c);
    return true;
  }
  return false;
}
