// One scan per physical presentation, and the scanning session changed by command-sheet codes:
// the rules of jejak-scan (scanner/presentation.py, scanner/session.py, labels/commands.py).

export const ACTIONS = ["receive", "dispatch", "pack", "unpack", "inspect", "handover", "return"];
export const DISPOSITIONS = ["ok", "damaged", "seal_broken"];
export const CONTAINER_ACTIONS = ["pack", "unpack"];
export const COUNT_ACTIONS = ["receive", "unpack", "inspect"]; // where the server takes counts
export const GAP = 2.0;            // camera: a label out of view this long, then back, is presented again
export const REPEAT_WINDOW = 1.5;  // wedge: the same text within this window is the same trigger
export const COMMAND_PREFIX = "JJK-CMD.";

const COMMANDS = {
  "JJK-CMD.ACTION.RECEIVE": ["action", "receive"], "JJK-CMD.ACTION.DISPATCH": ["action", "dispatch"],
  "JJK-CMD.ACTION.PACK": ["action", "pack"], "JJK-CMD.ACTION.UNPACK": ["action", "unpack"],
  "JJK-CMD.ACTION.INSPECT": ["action", "inspect"], "JJK-CMD.ACTION.HANDOVER": ["action", "handover"],
  "JJK-CMD.ACTION.RETURN": ["action", "return"],
  "JJK-CMD.DISPOSITION.OK": ["disposition", "ok"], "JJK-CMD.DISPOSITION.DAMAGED": ["disposition", "damaged"],
  "JJK-CMD.DISPOSITION.SEAL-BROKEN": ["disposition", "seal_broken"],
  "JJK-CMD.CONTAINER.END": ["container", "end"],
  // the count sheet: digits of the next package's count, its damaged units, clear
  ...Object.fromEntries([...Array(10).keys()].map((d) => [`JJK-CMD.COUNT.${d}`, ["count", String(d)]])),
  "JJK-CMD.COUNT.DAMAGED": ["count", "damaged"], "JJK-CMD.COUNT.CLEAR": ["count", "clear"],
  // the surat jalan (labels/commands.py): open a shipment, close the open shipment or receipt
  "JJK-CMD.SHIPMENT.OPEN": ["shipment", "open"], "JJK-CMD.SHIPMENT.CLOSE": ["shipment", "close"],
  // spellings of the scanner's first brief, kept so old sheets still work
  "JJK-CMD.END-CONTAINER": ["container", "end"], "JJK-CMD.DISPOSITION.SEAL_BROKEN": ["disposition", "seal_broken"],
};

export const isCommand = (text) => text.trim().toUpperCase().startsWith(COMMAND_PREFIX);
/** A surat jalan's QR: JSJ1.<number>.<uuid> (labels/shipment.py); null when it is not one. */
export function parseShipmentRef(text) {
  const m = /^JSJ1\.(SJ-[0-9]{6,12})\.([0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12})$/.exec(text.trim().toUpperCase());
  return m ? { number: m[1], uuid: m[2].toLowerCase(), text: text.trim().toUpperCase() } : null;
}
export const isShipmentRef = (text) => text.trim().toUpperCase().startsWith("JSJ1.");
/** The action whose scans are the koli of an open list. */
export const listAction = (list) => (list.kind === "shipment" ? "dispatch" : "receive");
/** [kind, value] of a command code, or null when it names no known command. */
export const parseCommand = (text) => COMMANDS[text.trim().toUpperCase()] || null;

/** Decide which sightings start a new presentation; times in seconds on one clock. */
export class PresentationTracker {
  constructor(gap = GAP) { this.gap = gap; this.lastSeen = new Map(); }
  sighted(text, t) {
    const last = this.lastSeen.get(text);
    this.lastSeen.set(text, last === undefined ? t : Math.max(last, t));
    return last === undefined || t - last >= this.gap;
  }
  frame(texts, t) {
    const fresh = [...new Set(texts)].filter((x) => this.sighted(x, t));
    if (this.lastSeen.size > 256) {
      for (const [k, v] of this.lastSeen) if (t - v >= this.gap) this.lastSeen.delete(k);
    }
    return fresh;
  }
  forget(text) { this.lastSeen.delete(text); }
}

/** Location, action, disposition (one-shot from the sheet), open container, seal, operator. */
export class Session {
  constructor(location, action = "receive") {
    this.location = location; this.action = action; this.disposition = "ok";
    this.nextDisposition = null; this.container = null; this.seal = ""; this.operator = "";
    this.clearCount();
  }
  get counting() { return COUNT_ACTIONS.includes(this.action); }
  /** One-shot counts for the next package: digits as entered (count sheet or the count fields). */
  clearCount() { this.countDigits = ""; this.damagedDigits = ""; this.countingDamaged = false; }
  /** {counted_quantity, damaged_quantity} for the scan being recorded ({} when nothing was counted). */
  counts() {
    const out = {};
    if (!this.counting) return out;
    if (this.countDigits !== "") out.counted_quantity = Number(this.countDigits);
    if (this.damagedDigits !== "") out.damaged_quantity = Number(this.damagedDigits);
    return out;
  }
  get needsContainer() { return CONTAINER_ACTIONS.includes(this.action) && !this.container; }
  setAction(action) {
    if (action !== this.action) this.container = null; // a container belongs to one pack/unpack run
    this.action = action;
  }
  /** Apply a parsed command; return {k, ...} describing the change (for the screen). */
  apply([kind, value]) {
    if (kind === "action") {
      this.setAction(value);
      return { k: this.needsContainer ? "cmd_action_container" : "cmd_action", action: value };
    }
    if (kind === "count") {
      if (value === "clear") { this.clearCount(); return { k: "cmd_count_clear" }; }
      if (!this.counting) return { k: "cmd_count_refused" };
      if (value === "damaged") this.countingDamaged = true;
      else if (this.countingDamaged) this.damagedDigits = (this.damagedDigits + value).slice(-7);
      else this.countDigits = (this.countDigits + value).slice(-7);
      return { k: "cmd_count", count: this.countDigits || "-", damaged: this.damagedDigits || "0" };
    }
    if (kind === "disposition") {
      this.nextDisposition = value === this.disposition ? null : value;
      return { k: "cmd_disposition", disposition: value };
    }
    const closed = this.container; this.container = null;
    return closed ? { k: "cmd_container_closed" } : { k: "cmd_no_container" };
  }
  takeDisposition() { const d = this.nextDisposition || this.disposition; this.nextDisposition = null; return d; }
}
