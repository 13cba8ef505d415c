// Upload the outbox: batches of at most 500 pending scans, oldest first, POST /api/v1/scans with
// the device token; the same UUIDs on every retry, so the server never counts a scan twice.
// Network errors, 408, 429 and 5xx: back off (1 s doubling to 60 s, times 0.5-1.0), at least as long
// as Retry-After says. 401/403: stop (the token); 404/405: stop (no scan API here). Another 4xx for
// the whole batch: halve it until the one scan the server cannot take is alone, then mark it rejected.
// Nothing is dropped by age. One uploader at a time across tabs (Web Locks).
// Closed shipments and receipts (the surat jalan) go after the scans, one request each, with the
// UUID they were opened with: a retry is answered already_recorded with the same number.
// Photos go last, each once its scan is sent (POST /api/v1/scans/<scan id>/photos, the image's
// bytes): 201/200 sent (the server stores the same bytes once); a photo of a rejected scan, or one
// the server refuses (400, 403, 409, 413, 415), rejected with its message; 404 (the server has not
// got the scan yet) waits for the next pass; network errors, 408, 429, 5xx back off.
// Confirmations (devicekey.js) go last, once their list has its number.

import * as store from "./store.js";
import * as devicekey from "./devicekey.js";

const MAX_BATCH = 500;
const BACKOFF_MIN = 1000, BACKOFF_MAX = 60000;

export class Uploader {
  // locationFor(token): the device's location, for scans made before the page ever reached the
  // server (they are written with location "" and get it here, from /api/v1/me of the same token).
  constructor({ onChange = () => {}, timeoutMs = 30000, locationFor = async () => null } = {}) {
    this.onChange = onChange; this.timeoutMs = timeoutMs; this.locationFor = locationFor;
    this.backoff = 0; this.notBefore = 0; this.stopped = null; // null, or a reason {k}
    this.running = false; this.lastOk = null; this.lastError = null; this.timer = null;
    this.batchLimit = MAX_BATCH;
  }

  /** Try now (after a scan, on "online"); respects the backoff unless force. */
  kick(force = false) {
    if (force) { this.notBefore = 0; this.stopped = null; }
    if (this.running) { this.again = true; return; }
    const wait = Math.max(0, this.notBefore - Date.now());
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), wait);
  }

  async run() {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const body = async () => { while (await this.once()); };
      if (navigator.locks) await navigator.locks.request("jejak-scan-upload", body); else await body();
    } finally {
      this.running = false;
      this.onChange();
      if (this.again) { this.again = false; this.kick(); }
    }
  }

  fail(error, retryAfterSeconds) {
    this.backoff = Math.min(BACKOFF_MAX, this.backoff ? this.backoff * 2 : BACKOFF_MIN);
    const jittered = this.backoff * (0.5 + Math.random() * 0.5);
    const told = retryAfterSeconds ? retryAfterSeconds * 1000 : 0;
    this.notBefore = Date.now() + Math.max(jittered, told);
    this.lastError = error;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.run(), this.notBefore - Date.now());
  }

  /** Send one batch; return true when another should follow right away. */
  async once() {
    const batch = await store.pending(this.batchLimit);
    if (!batch.length) {
      this.batchLimit = MAX_BATCH;
      if (await this.onceList()) return true;
      if (this.stopped || this.notBefore > Date.now()) return false; // the list's upload failed
      return this.oncePhoto();
    }
    const token = batch[0].token;
    const scans = batch.filter((s) => s.token === token); // scans of an earlier enrolment go with its token
    let fallback = null;
    if (scans.some((s) => !s.location)) {
      fallback = await this.locationFor(token);
      if (!fallback) { this.fail({ k: "up_network" }); return false; }
    }
    let response;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.timeoutMs);
    try {
      response = await fetch("/api/v1/scans", {
        method: "POST", signal: abort.signal, cache: "no-store", credentials: "omit",
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
        body: JSON.stringify({ scans: scans.map((s) => wire(s, fallback)) }),
      });
    } catch (err) {
      this.fail({ k: "up_network" });
      return false;
    } finally {
      clearTimeout(timer);
    }
    const status = response.status;
    if (status === 200) {
      const answer = await response.json();
      const results = {};
      for (const r of answer.results || []) if (r.id) results[r.id] = r;
      await store.applyResults(results);
      this.backoff = 0; this.lastOk = Date.now(); this.lastError = null;
      if (this.batchLimit < MAX_BATCH) this.batchLimit = Math.min(MAX_BATCH, this.batchLimit * 2);
      this.onChange();
      return true;
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    if (status === 408 || status === 429 || status >= 500) { this.fail({ k: "up_retry", status }, retryAfter); return false; }
    if (status === 401 || status === 403) { this.stopped = { k: "up_token", status }; return false; }
    if (status === 404 || status === 405) { this.stopped = { k: "up_no_api", status }; return false; }
    // The batch as a whole was refused: find the scan the server cannot take by halving.
    if (scans.length > 1) { this.batchLimit = Math.max(1, Math.floor(scans.length / 2)); return true; }
    let message = "";
    try { message = (await response.json()).error.message; } catch { message = `HTTP ${status}`; }
    await store.applyResults({ [scans[0].id]: { status: "rejected", error: message } });
    return true;
  }
}

Uploader.prototype.onceList = async function onceList() {
  const [list] = await store.listsIn("pending");
  if (!list) return this.onceConfirmation();
  const ref = list.kind === "receipt" ? /^JSJ1\.(SJ-[0-9]+)\./.exec(list.reference || "") : null;
  const url = list.kind === "shipment" ? "/api/v1/shipments" : `/api/v1/shipments/${ref ? ref[1] : "-"}/receipt`;
  const body = { id: list.id, koli: list.koli, closed_at: list.closed_at };
  if (list.operator) body.operator = list.operator;
  if (list.kind === "shipment") Object.assign(body, { from: list.location, to: list.to });
  else Object.assign(body, { reference: list.reference, location: list.location });
  let response;
  try {
    response = await fetch(url, { method: "POST", cache: "no-store", credentials: "omit",
      headers: { "Content-Type": "application/json", Authorization: `Bearer ${list.token}` },
      body: JSON.stringify(body) });
  } catch (err) { this.fail({ k: "up_network" }); return false; }
  const status = response.status;
  let answer = null;
  try { answer = await response.json(); } catch { answer = null; }
  if (status === 200 || status === 201) {
    list.state = "sent"; list.number = answer.number || answer.shipment; list.server = answer;
    await store.putList(list);
    this.backoff = 0; this.lastOk = Date.now(); this.lastError = null; this.onChange();
    return true;
  }
  const retryAfter = Number(response.headers.get("Retry-After")) || 0;
  if (status === 408 || status === 429 || status >= 500) { this.fail({ k: "up_retry", status }, retryAfter); return false; }
  if (status === 401) { this.stopped = { k: "up_token", status }; return false; }
  if (answer && answer.error) { // 400, 403 (a place this device may not use), 404, 409: this list only
    list.state = "rejected"; list.server = { error: answer.error.message };
    await store.putList(list); this.onChange();
    return true;
  }
  this.stopped = { k: "up_no_api", status };
  return false;
};

/** Send the oldest photo whose scan is on the server; return true when another should follow. */
Uploader.prototype.oncePhoto = async function oncePhoto() {
  for (const photo of await store.pendingPhotos()) {
    if (this.photoWait && this.photoWait[photo.id] > Date.now()) continue;
    const scan = await store.getScan(photo.scan_id);
    if (!scan || scan.state === "pending") continue; // its scan goes first
    if (scan.state === "rejected") {
      Object.assign(photo, { state: "rejected", server: { error: scan.server && scan.server.error } });
      await store.putPhoto(photo); this.onChange();
      return true;
    }
    let response;
    try {
      response = await fetch(`/api/v1/scans/${encodeURIComponent(photo.scan_id)}/photos`, {
        method: "POST", cache: "no-store", credentials: "omit",
        headers: { "Content-Type": photo.type, Authorization: `Bearer ${scan.token || photo.token}` },
        body: photo.blob });
    } catch (err) { this.fail({ k: "up_network" }); return false; }
    const status = response.status;
    let answer = null;
    try { answer = await response.json(); } catch { answer = null; }
    if (status === 200 || status === 201) {
      Object.assign(photo, { state: "sent", server: { sha256: answer.photo.sha256, status: answer.status } });
      await store.putPhoto(photo);
      this.backoff = 0; this.lastOk = Date.now(); this.lastError = null; this.onChange();
      return true;
    }
    const retryAfter = Number(response.headers.get("Retry-After")) || 0;
    if (status === 408 || status === 429 || status >= 500) { this.fail({ k: "up_retry", status }, retryAfter); return false; }
    if (status === 401) { this.stopped = { k: "up_token", status }; return false; }
    if (status === 404) { // not on the server yet: try this one again later, go on with the others
      (this.photoWait = this.photoWait || {})[photo.id] = Date.now() + BACKOFF_MAX;
      continue;
    }
    Object.assign(photo, { state: "rejected", server: { error: answer && answer.error ? answer.error.message : `HTTP ${status}` } });
    await store.putPhoto(photo); this.onChange();
    return true;
  }
  return false;
};

Uploader.prototype.onceConfirmation = async function onceConfirmation() {
  try {
    const handled = await devicekey.sendOne();
    if (handled) { this.backoff = 0; this.lastOk = Date.now(); this.lastError = null; this.onChange(); }
    return handled;
  } catch (err) { this.fail({ k: "up_network" }); return false; }
};

/** The scan as POST /api/v1/scans takes it (docs/api.md). */
function wire(s, fallbackLocation) {
  const out = { id: s.id, code: s.code, location: s.location || fallbackLocation, action: s.action, scanned_at: s.scanned_at,
                disposition: s.disposition, offline: s.offline, device: s.device };
  if (s.container) out.container = s.container;
  if (s.seal) out.seal = s.seal;
  if (s.operator) out.operator = s.operator;
  if (Number.isInteger(s.counted_quantity)) out.counted_quantity = s.counted_quantity;
  if (Number.isInteger(s.damaged_quantity)) out.damaged_quantity = s.damaged_quantity;
  return out;
}
