// The outbox and the offline cache, in IndexedDB ("jejak-scan").
// scans: one record per scan, keyed by its client UUID (the server's idempotency key); written with
//   durability "strict" and awaited before the person gets any signal. state: pending | sent | rejected.
//   Nothing is ever deleted, nothing expires by age.
// kv: the device token, /api/v1/me, the trusted keys, the expected list, settings.
// lists: shipments and receipts (the surat jalan), keyed by the UUID chosen when opened (the
//   server's idempotency key): state open -> pending (closed) -> sent | rejected; each koli is
//   added in the same transaction as its scan.
// photos: photos of scans (damage, a broken seal, a count that differs), keyed by their own UUID,
//   holding the image as a Blob with its scan's id: state pending -> sent | rejected; uploaded
//   after their scan (POST /api/v1/scans/<scan id>/photos), which stores the same bytes once.
// confirmations: a party's confirmation of a closed list (devicekey.js), keyed "<list id>:<party>":
//   state pending -> sent | rejected; sent once the list has its number.

const DB_NAME = "jejak-scan";
let dbPromise = null;

function req(r) {
  return new Promise((resolve, reject) => { r.onsuccess = () => resolve(r.result); r.onerror = () => reject(r.error); });
}

export function open() {
  if (!dbPromise) {
    dbPromise = new Promise((resolve, reject) => {
      const r = indexedDB.open(DB_NAME, 4);
      r.onupgradeneeded = (e) => {
        const db = r.result;
        if (e.oldVersion < 1) {
          const scans = db.createObjectStore("scans", { keyPath: "id" });
          scans.createIndex("state_seq", ["state", "seq"]);
          scans.createIndex("seq", "seq");
          scans.createIndex("seen", ["location", "action", "key"]);
          db.createObjectStore("kv", { keyPath: "k" });
        }
        if (e.oldVersion < 2) db.createObjectStore("lists", { keyPath: "id" }).createIndex("state", "state");
        if (e.oldVersion < 3) {
          const photos = db.createObjectStore("photos", { keyPath: "id" });
          photos.createIndex("state_seq", ["state", "seq"]);
          photos.createIndex("scan", "scan_id");
        }
        if (e.oldVersion < 4) db.createObjectStore("confirmations", { keyPath: "id" }).createIndex("state", "state");
      };
      r.onsuccess = () => resolve(r.result);
      r.onerror = () => reject(r.error);
      r.onblocked = () => reject(new Error("IndexedDB blocked by another tab"));
    });
  }
  return dbPromise;
}

async function tx(stores, mode, fn) {
  const db = await open();
  const t = db.transaction(stores, mode, mode === "readwrite" ? { durability: "strict" } : undefined);
  const result = fn(t);
  await new Promise((resolve, reject) => {
    t.oncomplete = resolve; t.onerror = () => reject(t.error); t.onabort = () => reject(t.error || new Error("aborted"));
  });
  return result instanceof IDBRequest ? result.result : result;
}

export async function kvGet(k) {
  const db = await open();
  const row = await req(db.transaction("kv").objectStore("kv").get(k));
  return row ? row.v : undefined;
}

export const kvPut = (k, v) => tx("kv", "readwrite", (t) => { t.objectStore("kv").put({ k, v }); });

let seqLast = 0;
/** A strictly increasing sequence number: upload order = scan order. */
export function nextSeq() { seqLast = Math.max(Date.now() * 1000, seqLast + 1); return seqLast; }

/** Write one scan durably (and its koli on an open list, in the same transaction). */
export const addScan = (scan, listId = null) => tx(listId ? ["scans", "lists"] : "scans", "readwrite", (t) => {
  t.objectStore("scans").add(scan);
  if (!listId) return;
  const lists = t.objectStore("lists");
  const get = lists.get(listId);
  get.onsuccess = () => {
    const list = get.result;
    if (!list || list.state !== "open") { t.abort(); return; }
    list.koli.push(scan.code);
    lists.put(list);
  };
});

/** Write a list (opened, closed or answered) durably. */
export const putList = (list) => tx("lists", "readwrite", (t) => { t.objectStore("lists").put(list); });

export async function getList(id) {
  const db = await open();
  return req(db.transaction("lists").objectStore("lists").get(id));
}

/** Lists in a state (open, pending, sent, rejected), oldest first. */
export async function listsIn(state) {
  const db = await open();
  const rows = await req(db.transaction("lists").objectStore("lists").index("state").getAll(state));
  return rows.sort((a, b) => a.seq - b.seq);
}

export async function seenBefore(location, action, key) {
  const db = await open();
  return (await req(db.transaction("scans").objectStore("scans").index("seen").count([location, action, key]))) > 0;
}

/** Pending scans, oldest first, at most `limit`. */
export async function pending(limit) {
  const db = await open();
  const range = IDBKeyRange.bound(["pending", -Infinity], ["pending", Infinity]);
  return req(db.transaction("scans").objectStore("scans").index("state_seq").getAll(range, limit));
}

/** Apply the server's answers: {id -> {status, anomalies, error}}. */
export const applyResults = (results) => tx("scans", "readwrite", (t) => {
  const store = t.objectStore("scans");
  for (const [id, r] of Object.entries(results)) {
    const get = store.get(id);
    get.onsuccess = () => {
      const scan = get.result;
      if (!scan || scan.state === "sent") return;
      scan.state = r.status === "rejected" ? "rejected" : "sent";
      scan.server = { status: r.status, anomalies: r.anomalies || [], error: r.error || null, at: new Date().toISOString() };
      store.put(scan);
    };
  }
});

export async function counts() {
  const db = await open();
  const idx = db.transaction("scans").objectStore("scans").index("state_seq");
  const n = (s) => req(idx.count(IDBKeyRange.bound([s, -Infinity], [s, Infinity])));
  const [p, s, r] = await Promise.all([n("pending"), n("sent"), n("rejected")]);
  return { pending: p, sent: s, rejected: r };
}

/** The last `n` scans, newest first. */
export async function recent(n) {
  const db = await open();
  const out = [];
  await new Promise((resolve, reject) => {
    const c = db.transaction("scans").objectStore("scans").index("seq").openCursor(null, "prev");
    c.onsuccess = () => {
      const cur = c.result;
      if (!cur || out.length >= n) return resolve();
      out.push(cur.value); cur.continue();
    };
    c.onerror = () => reject(c.error);
  });
  return out;
}

/** Keys (package ids or codes) scanned at a location with an action. */
export async function keysScanned(location, action) {
  const db = await open();
  const range = IDBKeyRange.bound([location, action, ""], [location, action, "\uffff"]);
  const rows = await req(db.transaction("scans").objectStore("scans").index("seen").getAll(range));
  return new Set(rows.map((r) => r.key));
}

/** Every scan (for tests and the benchmark). */
export async function all() {
  const db = await open();
  return req(db.transaction("scans").objectStore("scans").getAll());
}

/** Write a photo of a scan durably (its Blob in IndexedDB), or an answered one. */
export const putPhoto = (photo) => tx("photos", "readwrite", (t) => { t.objectStore("photos").put(photo); });

/** Pending photos, oldest first. */
export async function pendingPhotos() {
  const db = await open();
  const range = IDBKeyRange.bound(["pending", -Infinity], ["pending", Infinity]);
  return req(db.transaction("photos").objectStore("photos").index("state_seq").getAll(range));
}

/** The photos of one scan. */
export async function photosOf(scanId) {
  const db = await open();
  return req(db.transaction("photos").objectStore("photos").index("scan").getAll(scanId));
}

export async function getScan(id) {
  const db = await open();
  return req(db.transaction("scans").objectStore("scans").get(id));
}

/** Every photo, without waiting for anything (for tests). */
export async function allPhotos() {
  const db = await open();
  return req(db.transaction("photos").objectStore("photos").getAll());
}

export const putConfirmation = (c) => tx("confirmations", "readwrite", (t) => { t.objectStore("confirmations").put(c); });

export async function confirmationsIn(state) {
  const db = await open();
  const rows = await req(db.transaction("confirmations").objectStore("confirmations").index("state").getAll(state));
  return rows.sort((a, b) => a.seq - b.seq);
}

export async function getConfirmation(id) {
  const db = await open();
  return (await req(db.transaction("confirmations").objectStore("confirmations").get(id))) || null;
}
