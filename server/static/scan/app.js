// The phone scanner: enrolment from the #token= fragment, the offline cache (me, keys, expected),
// camera and wedge input -> one scan per presentation -> offline checks -> IndexedDB outbox
// (durably, BEFORE any signal) -> green/amber/red with sound and vibration -> upload in batches.
import * as store from "./store.js";
import { judge, pemToRaw, ed25519Backend } from "./checks.js";
import { ACTIONS, DISPOSITIONS, GAP, REPEAT_WINDOW, PresentationTracker, Session, isCommand, parseCommand,
         isShipmentRef, parseShipmentRef, listAction } from "./session.js";
import { Uploader } from "./uploader.js";
import * as devicekey from "./devicekey.js";
import { Camera } from "./camera.js";
import * as feedback from "./feedback.js";
import { t, reason, setLang, getLang } from "./i18n.js";

const $ = (id) => document.getElementById(id);
const state = {
  token: null, me: null, keys: null, expected: null, syncedAt: null, online: navigator.onLine,
  deviceName: null, session: new Session(""), camera: null, lastVerdict: null, problem: null,
  openList: null, // the shipment or receipt being scanned (the surat jalan), from IndexedDB
  lastScan: null, // the scan the photo button attaches to
};
const frameTracker = new PresentationTracker(GAP);
let textTracker = new PresentationTracker(REPEAT_WINDOW);
// For tests and benchmarks: what happened, with page times (performance.now()).
const probe = window.jejakScan = { events: [], ready: false, stats: null, uploader: null, store };

// 1. Enrolment: take the token out of the address bar before anything else runs.
const fragmentToken = (() => {
  const m = /(?:^#|&)token=([^&]+)/.exec(location.hash);
  if (!m) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return decodeURIComponent(m[1]);
})();

const uploader = new Uploader({
  onChange: () => { noteNetwork(); refreshCounts(); renderRecent(); renderLists(); },
  locationFor: async (token) => {
    if (token !== state.token) return null;
    if (!state.me) await sync();
    return location_() || null;
  },
});
probe.uploader = uploader;

async function main() {
  setLang((await store.kvGet("lang")) || "id");
  if (fragmentToken) {
    await store.kvPut("token", fragmentToken);
    const old = await store.kvGet("token_enrolled");
    if (old !== fragmentToken) { // another device: forget the previous device's cache
      for (const k of ["me", "keys", "expected", "synced_at"]) await store.kvPut(k, null);
      await store.kvPut("token_enrolled", fragmentToken);
    }
  }
  state.token = (await store.kvGet("token")) || null;
  // The device key is made at enrolment (and by the first start of a phone enrolled before keys).
  if (state.token) await devicekey.ensureKey(state.token).catch((err) => { probe.keyError = String(err); });
  state.deviceName = await store.kvGet("device_name");
  if (!state.deviceName) {
    state.deviceName = "phone-" + uuid().slice(0, 8);
    await store.kvPut("device_name", state.deviceName);
  }
  state.session.seal = (await store.kvGet("seal")) || "";
  state.session.operator = (await store.kvGet("operator")) || "";
  await loadCache();
  state.openList = (await store.listsIn("open"))[0] || null; // taken up again after a reload
  state.lastScan = (await store.recent(1))[0] || null; // the photo button's scan, after a reload too
  state.shipTo = (await store.kvGet("ship_to")) || "";
  buildControls();
  render();
  registerServiceWorker();
  if (navigator.storage && navigator.storage.persist) {
    navigator.storage.persist().then((p) => { state.persisted = p; renderStatus(); }).catch(() => {});
  }
  window.addEventListener("online", () => { state.online = true; noteNetwork(); sync(); uploader.kick(true); });
  window.addEventListener("offline", () => { state.online = false; noteNetwork(); });
  document.addEventListener("keydown", onKey, true);
  document.addEventListener("pointerdown", feedback.unlock, { passive: true });
  setInterval(() => uploader.kick(), 5000);
  setInterval(sync, 5 * 60 * 1000);
  startCamera();
  probe.ready = true;
  if (state.token) { sync(); uploader.kick(); }
}

function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const h = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function registerServiceWorker() {
  if (!("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/scan/sw.js", { scope: "/scan" })
    .then(() => navigator.serviceWorker.ready).then(() => { probe.swReady = true; })
    .catch((err) => { probe.swError = String(err); });
}

// 2. The offline cache: who am I, trusted keys, what is expected here.
async function loadCache() {
  state.me = (await store.kvGet("me")) || null;
  const keys = await store.kvGet("keys");
  state.keys = keys ? new Map(keys.map((k) => [k.key_id, safeRaw(k.public_key_pem)]).filter(([, v]) => v)) : null;
  const expected = await store.kvGet("expected");
  state.expected = expected ? { location: expected.location, packages: new Map(expected.packages.map((p) => [p.package_id, p])) } : null;
  state.syncedAt = (await store.kvGet("synced_at")) || null;
  state.session.location = location_();
}

function safeRaw(pem) { try { return pemToRaw(pem); } catch { return null; } }
function location_() { return state.me ? (state.me.device_location || state.me.region.code) : ""; }

async function api(path) {
  const abort = new AbortController();
  const timer = setTimeout(() => abort.abort(), 30000);
  try {
    const r = await fetch(path, { headers: { Authorization: `Bearer ${state.token}` }, cache: "no-store",
                                  credentials: "omit", signal: abort.signal });
    if (r.status === 401 || r.status === 403) { state.problem = { k: "up_token", status: r.status }; throw new Error("token"); }
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    return await r.json();
  } finally { clearTimeout(timer); }
}

let syncing = null;
async function sync() {
  if (!state.token || syncing) return syncing;
  syncing = (async () => {
    try {
      const me = await api("/api/v1/me");
      const keys = (await api("/api/v1/keys")).keys;
      let page = await api("/api/v1/expected");
      const expected = { location: page.location, packages: page.packages };
      while (page.next) { page = await api(page.next); expected.packages.push(...page.packages); }
      await store.kvPut("me", me); await store.kvPut("keys", keys); await store.kvPut("expected", expected);
      await store.kvPut("synced_at", new Date().toISOString());
      state.problem = await devicekey.register(state.token); state.online = true;
      await loadCache();
      probe.synced = true;
    } catch (err) {
      if (err.message !== "token") state.online = false;
    } finally {
      syncing = null; render();
    }
  })();
  return syncing;
}

// 3. Input: camera frames and typed (wedge) lines -> presentations.
async function startCamera(deviceId = null) {
  if (!navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) { showCameraButton(); return; }
  if (!state.camera) state.camera = new Camera($("video"), { onTexts, onStats: (s) => { probe.stats = s; } });
  try {
    await state.camera.start(deviceId);
    $("cam-start").hidden = true;
    $("torch").hidden = !state.camera.hasTorch();
    const cams = await Camera.cameras();
    const sel = $("cam-choose");
    sel.replaceChildren(...cams.map((c, i) => new Option(c.label || `${t("camera")} ${i + 1}`, c.deviceId)));
    const current = state.camera.track() && state.camera.track().getSettings().deviceId;
    if (current) sel.value = current;
    sel.hidden = cams.length < 2;
    probe.cameraStarted = performance.now();
  } catch (err) {
    probe.cameraError = String(err);
    showCameraButton(err);
  }
}

function showCameraButton(err) {
  const b = $("cam-start");
  b.hidden = false; b.textContent = t("camera_start");
  if (err) setStatusLine(t("camera_failed") + (err.name || err.message || err));
}

function onTexts(texts, frameTime) {
  if (!texts.length) return;
  const now = performance.now() / 1000;
  const commands = new Set(texts.filter(isCommand));
  if (commands.size > 1) {
    texts = texts.filter((x) => !commands.has(x));
    note({ k: "several_commands" });
  }
  let fresh = frameTracker.frame(texts, now);
  const labels = fresh.filter((x) => !commands.has(x));
  if (state.session.needsContainer && labels.length > 1) {
    for (const x of labels) frameTracker.forget(x);
    fresh = fresh.filter((x) => !labels.includes(x));
    note({ k: "several_labels" });
  }
  for (const text of fresh) enqueue(text, { frameTime, decodedAt: performance.now(), source: "camera" });
}

let wedgeBuffer = "", wedgeAt = 0;
function onKey(e) {
  const target = e.target;
  if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA" || target.tagName === "SELECT")) return;
  if (e.key === "Enter") {
    const line = wedgeBuffer; wedgeBuffer = "";
    if (line.trim()) { e.preventDefault(); feedText(line); }
    return;
  }
  if (e.key.length === 1 && !e.ctrlKey && !e.metaKey && !e.altKey) {
    const now = performance.now();
    if (now - wedgeAt > 2000) wedgeBuffer = ""; // a stray key long ago is not the start of this code
    wedgeAt = now; wedgeBuffer += e.key; e.preventDefault();
  }
}

function feedText(text) {
  text = text.trim();
  if (!text) return;
  if (!textTracker.sighted(text, performance.now() / 1000)) { note({ k: "same_again", s: REPEAT_WINDOW }); return; }
  enqueue(text, { decodedAt: performance.now(), source: "text" });
}

// Presentations are handled one at a time, in order (the re-scan test reads the outbox).
let chain = Promise.resolve();
function enqueue(text, meta) { chain = chain.then(() => handle(text, meta)).catch((err) => console.error(err)); }

async function handle(text, meta) {
  text = text.trim();
  const s = state.session;
  if (isShipmentRef(text)) { await openReceipt(text); return; }
  if (isCommand(text)) {
    const cmd = parseCommand(text);
    if (!cmd) { show("problem", text, [{ k: "cmd_unknown" }]); return; }
    if (cmd[0] === "shipment") { await (cmd[1] === "open" ? openShipment() : closeList()); return; }
    const change = s.apply(cmd);
    textTracker = new PresentationTracker(REPEAT_WINDOW); // a command starts a new intention
    show("command", t("command"), [change], "accepted");
    renderControls();
    return;
  }
  if (s.needsContainer) {
    const v = await judge(text, ctx("container"));
    if (!v.packageId) { show("problem", text.slice(0, 40), [{ k: "not_container" }]); return; }
    s.container = v.code;
    show(v.signal === "problem" ? "problem" : "command", v.packageId, [{ k: "container_opened", name: v.packageId }, ...(v.signal === "problem" ? v.reasons : [])], v.signal === "problem" ? "problem" : "accepted");
    renderControls();
    return;
  }
  if (s.container && text.toUpperCase() === s.container.toUpperCase()) { note({ k: "the_container" }); return; }
  await record(text, meta);
}

// The surat jalan: a shipment's koli are the dispatch scans while it is open; a receipt (opened by
// scanning the paper's QR) takes the receive scans. Closing queues it for upload.
async function openList(list, change) {
  if (state.openList) { show("problem", t("command"), [{ k: "list_open_already" }]); return; }
  try { await store.putList(list); } catch (err) { show("problem", t("not_recorded"), [String(err.message || err)]); return; }
  state.openList = list;
  state.session.setAction(listAction(list));
  textTracker = new PresentationTracker(REPEAT_WINDOW);
  show("command", t("command"), [change], "accepted");
  renderControls();
}

function newList(kind, extra) {
  return { id: uuid(), seq: store.nextSeq(), kind, location: state.session.location, operator: state.session.operator || null,
           opened_at: new Date().toISOString(), closed_at: null, state: "open", koli: [], token: state.token, ...extra };
}

async function openShipment() {
  const to = ($("ship-to").value || "").trim().toUpperCase();
  if (!to) { show("problem", t("command"), [{ k: "ship_need_to" }]); return; }
  await store.kvPut("ship_to", to);
  await openList(newList("shipment", { to }), { k: "ship_opened", to });
}

async function openReceipt(text) {
  const ref = parseShipmentRef(text);
  if (!ref) { show("problem", text.slice(0, 40), [{ k: "not_surat_jalan" }]); return; }
  await openList(newList("receipt", { reference: ref.text, number: ref.number }), { k: "receipt_opened", number: ref.number });
}

async function closeList() {
  const list = state.openList && await store.getList(state.openList.id);
  if (!list) { show("problem", t("command"), [{ k: "list_none" }]); return; }
  list.state = "pending"; list.closed_at = new Date().toISOString();
  try { await store.putList(list); } catch (err) { show("problem", t("not_recorded"), [String(err.message || err)]); return; }
  state.openList = null;
  show("command", t("command"), [{ k: "list_closed", n: list.koli.length }], "accepted");
  renderControls(); renderLists();
  uploader.kick(true);
}

function ctx(action) {
  return { location: state.session.location, action, keys: state.keys, expected: state.expected,
           disposition: state.session.nextDisposition || state.session.disposition,
           seenBefore: (key) => store.seenBefore(state.session.location, action, key) };
}

async function record(text, meta) {
  const s = state.session;
  const v = await judge(text, ctx(s.action));
  takeTypedCount(s);
  const scan = {
    ...s.counts(),
    id: uuid(), seq: store.nextSeq(), code: v.code.slice(0, 1000), key: v.packageId || v.code, package_id: v.packageId,
    location: s.location, action: s.action, scanned_at: new Date().toISOString(),
    disposition: s.nextDisposition || s.disposition, container: s.container && ["pack", "unpack"].includes(s.action) ? s.container : null,
    seal: s.seal || null, operator: s.operator || null, offline: !state.online || !navigator.onLine,
    device: state.deviceName, token: state.token, state: "pending", signal: v.signal, reasons: v.reasons, source: meta.source,
  };
  const list = state.openList && listAction(state.openList) === s.action ? state.openList : null;
  try {
    await store.addScan(scan, list ? list.id : null);
    if (list) list.koli.push(scan.code);
  } catch (err) {
    frameTracker.forget(text); textTracker.forget(text); // showing it again right away must be recorded
    show("problem", v.packageId || text.slice(0, 40), [{ k: "not_recorded" }, String(err.message || err)], "problem", t("not_recorded"));
    return;
  }
  // Durably in the outbox: only now may the person see and hear the verdict.
  s.takeDisposition();
  s.clearCount(); $("count").value = ""; $("damaged").value = "";
  probe.events.push({ id: scan.id, text: scan.code, signal: v.signal, source: meta.source,
                      frameTime: meta.frameTime, decodedAt: meta.decodedAt, storedAt: performance.now() });
  show(v.signal, v.packageId || v.code.slice(0, 40), v.reasons.slice(0, 1)); // one reason: the worst
  state.lastScan = scan;
  renderControls();
  renderRecent(); refreshCounts();
  uploader.kick();
}

/** Keep photos of the last scan in IndexedDB (durably, before saying so); upload after the scan. */
async function addPhotos(files) {
  const scan = state.lastScan;
  if (!scan) { note({ k: "photo_none" }); return; }
  for (const file of files) {
    const head = new Uint8Array(await file.slice(0, 8).arrayBuffer());
    const type = head[0] === 0xff && head[1] === 0xd8 ? "image/jpeg"
      : head[0] === 0x89 && head[1] === 0x50 && head[2] === 0x4e && head[3] === 0x47 ? "image/png" : null;
    if (!type) { note({ k: "photo_bad", name: file.name }); continue; }
    const blob = new Blob([await file.arrayBuffer()], { type }); // the bytes, not a handle to the file
    await store.putPhoto({ id: uuid(), seq: store.nextSeq(), scan_id: scan.id, token: scan.token, type, blob,
                           name: file.name, added_at: new Date().toISOString(), state: "pending" });
    note({ k: "photo_queued", name: file.name, what: scan.package_id || scan.code.slice(0, 30) });
  }
  renderRecent();
  uploader.kick();
}

// 4. Screen.
function show(kind, what, reasons, sound = kind, title = null) {
  const box = $("verdict");
  box.className = "verdict " + kind;
  $("v-title").textContent = title || (kind === "command" ? t("command") : t(kind));
  $("v-what").textContent = what || "";
  $("v-why").textContent = reasons.map(reason).join("; ");
  state.lastVerdict = { kind, what, reasons, title };
  feedback.signal(sound === "command" ? "accepted" : sound);
}

function note(r) { setStatusLine(reason(r)); }
function setStatusLine(text) { state.statusLine = text; renderStatus(); }

function render() {
  document.title = t("title");
  for (const el of document.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  $("lang").textContent = getLang() === "id" ? "EN" : "ID";
  const loc = state.expected ? state.expected.location : null;
  $("loc-name").textContent = loc ? loc.name : (state.me ? state.me.region.name : "Jejak");
  $("loc-code").textContent = state.session.location || "";
  const banner = $("banner");
  if (!state.token) { banner.hidden = false; banner.className = "banner bad"; banner.textContent = t("not_enrolled"); }
  else if (state.problem || uploader.stopped) { banner.hidden = false; banner.className = "banner bad"; banner.textContent = reason(state.problem || uploader.stopped); }
  else if (!state.keys || !state.expected) { banner.hidden = false; banner.className = "banner"; banner.textContent = t("never_synced_banner"); }
  else banner.hidden = true;
  if (state.lastVerdict) {
    const v = state.lastVerdict;
    $("v-title").textContent = v.title || (v.kind === "command" ? t("command") : t(v.kind));
    $("v-why").textContent = v.reasons.map(reason).join("; ");
  }
  renderControls(); noteNetwork(); refreshCounts(); renderRecent(); renderLists(); renderStatus();
}

/** Take the count typed in the count fields (they win over digits scanned from the count sheet). */
function takeTypedCount(s) {
  const counted = $("count").value.trim(), damaged = $("damaged").value.trim();
  if (/^\d{1,7}$/.test(counted)) s.countDigits = counted;
  if (/^\d{1,7}$/.test(damaged)) s.damagedDigits = damaged;
  if (s.damagedDigits !== "" && s.countDigits !== "" && Number(s.damagedDigits) > Number(s.countDigits)) s.damagedDigits = s.countDigits;
}

function buildControls() {
  const nav = $("actions");
  nav.replaceChildren(...ACTIONS.map((a) => {
    const b = document.createElement("button");
    b.type = "button"; b.dataset.action = a;
    b.addEventListener("click", () => { state.session.setAction(a); textTracker = new PresentationTracker(REPEAT_WINDOW); renderControls(); });
    return b;
  }));
  for (const b of document.querySelectorAll("[data-disp]")) {
    b.addEventListener("click", () => {
      const d = b.dataset.disp;
      state.session.nextDisposition = d === state.session.disposition ? null : d;
      renderControls();
    });
  }
  $("lang").addEventListener("click", async () => { setLang(getLang() === "id" ? "en" : "id"); await store.kvPut("lang", getLang()); render(); });
  $("manual").addEventListener("submit", (e) => { e.preventDefault(); const x = $("manual-text"); feedText(x.value); x.value = ""; });
  $("seal").value = state.session.seal; $("operator").value = state.session.operator;
  for (const id of ["count", "damaged"]) $(id).addEventListener("input", renderControls);
  $("seal").addEventListener("change", (e) => { state.session.seal = e.target.value.trim(); store.kvPut("seal", state.session.seal); });
  $("operator").addEventListener("change", (e) => { state.session.operator = e.target.value.trim(); store.kvPut("operator", state.session.operator); });
  $("close-container").addEventListener("click", () => handle("JJK-CMD.CONTAINER.END", { source: "button" }));
  $("ship-to").value = state.shipTo;
  $("ship-open").addEventListener("click", () => enqueue("JJK-CMD.SHIPMENT.OPEN", { source: "button" }));
  $("ship-close").addEventListener("click", () => enqueue("JJK-CMD.SHIPMENT.CLOSE", { source: "button" }));
  $("cam-start").addEventListener("click", () => { feedback.unlock(); startCamera(); });
  $("photo-input").addEventListener("change", async (e) => { await addPhotos([...e.target.files]); e.target.value = ""; });
  $("cam-choose").addEventListener("change", (e) => startCamera(e.target.value));
  $("torch").addEventListener("click", async (e) => {
    state.torch = !state.torch; e.target.setAttribute("aria-pressed", String(state.torch));
    try { await state.camera.torch(state.torch); } catch { state.torch = false; }
  });
}

function renderControls() {
  const s = state.session;
  for (const b of document.querySelectorAll("#actions button")) {
    b.textContent = t("act_" + b.dataset.action);
    b.setAttribute("aria-pressed", String(b.dataset.action === s.action));
  }
  $("count-box").hidden = !s.counting;
  if (s.countDigits && document.activeElement !== $("count")) $("count").value = s.countDigits;
  if (s.damagedDigits && document.activeElement !== $("damaged")) $("damaged").value = s.damagedDigits;
  const current = s.nextDisposition || s.disposition;
  for (const b of document.querySelectorAll("[data-disp]")) {
    b.textContent = t("disp_" + b.dataset.disp);
    b.setAttribute("aria-pressed", String(b.dataset.disp === current));
  }
  const c = $("container");
  if (s.container) { c.hidden = false; c.textContent = t("container_open", { name: s.container.split(".")[2] || s.container.slice(0, 30) }); }
  else if (s.needsContainer) { c.hidden = false; c.textContent = t("container_need"); }
  else c.hidden = true;
  $("close-container").hidden = !s.container;
  const l = state.openList, ln = $("list-note");
  if (l) {
    ln.hidden = false;
    ln.textContent = l.kind === "shipment" ? t("list_shipment", { to: l.to, n: l.koli.length })
                                           : t("list_receipt", { number: l.number, n: l.koli.length });
  } else ln.hidden = true;
  $("ship-open").hidden = !!l; $("ship-close").hidden = !l;
  $("photo-btn").hidden = !state.lastScan;
  $("photo-what").textContent = state.lastScan ? (state.lastScan.package_id || state.lastScan.code.slice(0, 30)) : "";
}

/** The last lists and what the server said of them (number, short and extra koli). */
async function renderLists() {
  const rows = [...await store.listsIn("pending"), ...await store.listsIn("sent"), ...await store.listsIn("rejected")]
    .sort((a, b) => b.seq - a.seq).slice(0, 5);
  const confirmations = new Map();
  for (const st of ["pending", "sent", "rejected"]) for (const c of await store.confirmationsIn(st)) confirmations.set(c.list_id, c);
  $("lists").replaceChildren(...rows.map((l) => {
    const li = document.createElement("li");
    li.className = l.state; li.dataset.id = l.id;
    const a = l.server || {};
    let text;
    if (l.state === "rejected") text = t("list_rejected", { error: a.error });
    else if (l.state === "pending") text = (l.kind === "shipment" ? t("list_shipment", { to: l.to, n: l.koli.length })
                                                                    : t("list_receipt", { number: l.number, n: l.koli.length })) + " · " + t("st_pending");
    else if (l.kind === "shipment") text = t("list_sent", { number: a.number, n: (a.koli || []).length });
    else {
      const flagged = [...(a.short_shipment || []).map((p) => `${t("k_short_shipment")}: ${p}`),
                       ...(a.not_in_shipment || []).map((p) => `${t("k_not_in_shipment")}: ${p}`)];
      text = flagged.length ? t("list_flagged", { number: a.shipment, list: flagged.join("; ") }) : t("list_received", { number: a.shipment });
    }
    li.textContent = text;
    if (l.state !== "rejected") li.append(confirmControl(l, confirmations.get(l.id)));
    return li;
  }));
}

/** Under a closed list: its party's confirmation, or the button that makes it. */
function confirmControl(list, c) {
  const party = list.kind === "shipment" ? "giver" : "receiver";
  const el = document.createElement("div");
  el.className = "confirm";
  if (!c) {
    const b = document.createElement("button");
    b.type = "button"; b.className = "confirm-btn"; b.textContent = t("confirm_" + party);
    b.addEventListener("click", async () => {
      b.disabled = true;
      await devicekey.queue(list, state.session.operator);
      renderLists(); uploader.kick(true);
    });
    el.append(b);
  } else if (c.state === "sent") {
    el.textContent = t("confirm_sent", { party: t("party_" + party), name: (c.server && c.server.name) || c.name });
  } else if (c.state === "rejected") {
    el.className = "confirm rejected"; el.textContent = t("confirm_rejected", { error: c.error });
  } else el.textContent = t("confirm_pending");
  return el;
}

function noteNetwork() {
  const online = state.online && navigator.onLine && !uploader.lastError;
  const el = $("net");
  el.textContent = t(online ? "online" : "offline");
  el.className = "net " + (online ? "on" : "off");
}

async function refreshCounts() {
  const c = await store.counts();
  $("n-pending").textContent = c.pending;
  $("n-pending").parentElement.classList.toggle("warn", c.pending > 0);
  if (state.expected) {
    const received = await store.keysScanned(state.session.location, "receive");
    let left = 0;
    for (const id of state.expected.packages.keys()) if (!received.has(id)) left++;
    $("n-expected").textContent = `${left}`;
    $("l-expected").textContent = `${t("expected_left")} (${state.expected.packages.size})`;
  } else {
    $("n-expected").textContent = "-";
    $("l-expected").textContent = t("expected_unknown");
  }
  state.counts = c;
  renderStatus();
}

async function renderRecent() {
  const rows = await store.recent(8);
  const ol = $("recent");
  if (!rows.length) { ol.replaceChildren(Object.assign(document.createElement("li"), { textContent: t("none_yet") })); return; }
  ol.replaceChildren(...await Promise.all(rows.map(async (s) => {
    const li = document.createElement("li");
    li.className = s.signal; li.dataset.id = s.id;
    const dot = Object.assign(document.createElement("span"), { className: "dot" });
    const mid = document.createElement("div");
    const what = Object.assign(document.createElement("div"), { className: "what", textContent: (s.package_id || s.code.slice(0, 30)) });
    const reasons = (s.reasons || []).map(reason);
    if (s.server && s.server.anomalies && s.server.anomalies.length) reasons.push(t("anomalies", { list: s.server.anomalies.map((k) => t("k_" + k)).join(", ") }));
    if (s.server && s.server.error) reasons.push(s.server.error);
    const photos = await store.photosOf(s.id);
    if (photos.length) reasons.push(t("photo_count", { n: photos.length }) + " (" + photos.map((p) => t("st_" + p.state)).join(", ") + ")");
    for (const p of photos) if (p.state === "rejected") reasons.push(t("photo_rejected", { error: p.server && p.server.error }));
    const why = Object.assign(document.createElement("div"), { className: "why",
      textContent: `${t("act_" + s.action)} · ${s.scanned_at.slice(11, 19)}${reasons.length ? " · " + reasons.join("; ") : ""}` });
    mid.append(what, why);
    const st = Object.assign(document.createElement("span"), { className: "state " + s.state, textContent: t("st_" + s.state) });
    li.append(dot, mid, st);
    return li;
  })));
}

function renderStatus() {
  const lines = [];
  if (state.statusLine) lines.push(state.statusLine);
  if (state.syncedAt) lines.push(`${t("last_sync")}: ${state.syncedAt.replace("T", " ").slice(0, 19)} UTC`);
  if (state.counts && state.counts.rejected) lines.push(`${t("rejected")}: ${state.counts.rejected}`);
  if (uploader.lastError) lines.push(reason(uploader.lastError));
  lines.push(`${state.deviceName || ""} · Ed25519 ${ed25519Backend()} · ${t("storage_persist")}: ${state.persisted ? "ya/yes" : "-"}`);
  $("status").textContent = lines.join("\n");
}

main().catch((err) => { probe.error = String(err && err.stack || err); console.error(err); });
