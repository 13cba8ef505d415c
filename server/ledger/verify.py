"""Check the tamper-evident log, write a region's export, and check an export offline.

:func:`verify_database` walks ``ledger_entries`` in seq order beside the live
rows and reports, in log order, every record that was

* **modified** - a scan row whose content no longer hashes to its entry's digest;
* **deleted** - an entry whose scan or anomaly row is gone, or a gap in the seqs;
* **reordered** - a row that now holds another chained scan (ids or contents
  swapped), or an entry whose chain value does not follow from the one before;
* **inserted** - a scan row that no entry chains;

and every checkpoint whose signature fails or whose signed head differs from
the chain (history before it rewritten, hashes and all).  Given signed heads
(``server.ledger.heads``, kept by a witness), it also reports the log
**truncated** below a head's seq or **forked** (another chain at that seq).

An export (:func:`write_export`) is JSON lines: a header, then one line per
entry of the WHOLE log, ``{"seq", "kind", "digest"}``, with ``"chain"`` and the
full ``"record"`` only for the region's scans and resolutions and for every
signed checkpoint.  A region is a subset of one global chain, so the digests of
the other regions' entries are what lets :func:`verify_export` recompute the
chain offline (without revealing their content), and the checkpoints, signed
by the ledger key whose public half is in the header, are what make it proof.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization
from sqlalchemy import and_, exists, func, select
from sqlalchemy.orm import Session

from server.ledger.checkpoints import checkpoint_problem, key_id_of
from server.ledger.content import (
    GENESIS,
    SCAN_COLUMNS,
    _Box,
    _Pkg,
    digest_of,
    link,
    scan_content,
)
from server.ledger.heads import compare_heads
from server.ledger.records import BY_ENTRY_KIND, Scope, name_of
from server.ledger.verify_records import check_records
from server.models import PATH_END, LedgerEntry, Location, ScanEvent, utc_now

EXPORT_FORMAT = "jejak-ledger-export-v1"


MAX_LISTED = 200  # problems kept in the report per kind of record; the count goes on


@dataclass
class Problem:
    """One thing wrong with the log, at a position in it."""

    # modified | deleted | reordered | inserted | checkpoint | unsigned | format
    # | truncated | forked | head (a head given to check that is not a signed head)
    what: str
    seq: int | None
    message: str
    position: float = 0.0
    record: str = ""  # the kind of record (scan, package, ...), "" for the log itself

    def __str__(self) -> str:
        where = f"seq {self.seq}: " if self.seq is not None else ""
        return f"{self.what.upper()}: {where}{self.message}"


@dataclass
class Report:
    """What a verification found: counts, the head, and the problems in log order."""

    entries: int = 0
    scans: int = 0
    resolutions: int = 0
    checkpoints: int = 0
    head: bytes = GENESIS
    last_checkpoint_seq: int = 0
    key_ids: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0
    region_records: int = 0
    heads: int = 0
    records: Counter = field(default_factory=Counter)  # chained plan/access/anomaly entries by kind
    listed: Counter = field(default_factory=Counter)   # problems kept per kind of record

    @property
    def ok(self) -> bool:
        """Tell whether nothing was found wrong."""
        return self.problem_count == 0

    def add(self, what: str, seq: int | None, message: str, position: float | None = None,
            record: str = "") -> None:
        """Record a problem (the first MAX_LISTED of each kind of record are kept)."""
        self.problem_count += 1
        if not self.full(record):
            self.listed[record] += 1
            self.problems.append(Problem(what, seq, message,
                                         position if position is not None else float(seq or 0),
                                         record))

    def full(self, record: str = "") -> bool:
        """Tell whether MAX_LISTED problems of this kind of record are already kept."""
        return self.listed[record] >= MAX_LISTED

    def summary(self) -> str:
        """Return a one-paragraph account of what was checked."""
        unsigned = self.entries - self.last_checkpoint_seq
        keys = ", ".join(sorted(self.key_ids)) or "none"
        records = "".join(f"{n} {kind}, " for kind, n in sorted(self.records.items()))
        text = (f"{self.entries} entries ({self.scans} scans, {self.resolutions} resolutions, "
                f"{records}{self.checkpoints} signed checkpoints, ledger keys: {keys}); "
                f"head {self.head.hex()}")
        if self.region_records:
            text += f"; {self.region_records} records of the region checked in full"
        if self.heads:
            text += f"; {self.heads} signed heads held"
        if unsigned > 0:
            text += f"; the last {unsigned} entries are not yet covered by a checkpoint"
        return text


WALK_OFFSET = 7  # the ledger columns before SCAN_COLUMNS in _ledger_walk


def _ledger_walk():
    """Return the SELECT of every entry in seq order beside its live scan row."""
    return (select(LedgerEntry.seq, LedgerEntry.kind, LedgerEntry.row_id, LedgerEntry.ref,
                   LedgerEntry.digest, LedgerEntry.chain, LedgerEntry.content, *SCAN_COLUMNS,
                   Location.path.label("location_path"))
            .select_from(LedgerEntry)
            .outerjoin(ScanEvent, and_(LedgerEntry.kind == "scan", ScanEvent.id == LedgerEntry.row_id))
            .outerjoin(Location, Location.id == ScanEvent.location_id)
            .outerjoin(_Pkg, _Pkg.id == ScanEvent.package_id)
            .outerjoin(_Box, _Box.id == ScanEvent.container_id)
            .order_by(LedgerEntry.seq)
            .execution_options(yield_per=5000))


def _check_link(report: Report, e, prev_seq: int, prev_chain: bytes) -> bytes:
    """Check seq continuity and the chain link of one entry; return its chain value."""
    if e.seq != prev_seq + 1:
        gap = f"{prev_seq + 1}" if e.seq == prev_seq + 2 else f"{prev_seq + 1}..{e.seq - 1}"
        report.add("deleted", prev_seq + 1, f"ledger entries {gap} are missing")
    digest, chain = bytes(e.digest), bytes(e.chain)
    if link(prev_chain, digest) != chain:
        report.add("reordered", e.seq,
                   f"the chain breaks at this {e.kind} entry ({e.ref or 'no ref'}): entries were "
                   f"reordered, removed or altered before it")
    return chain


def _wanted_seqs(heads) -> set[int]:
    """Return the seqs the heads to check cover (unreadable ones are reported later)."""
    wanted = set()
    for head in heads or ():
        try:
            wanted.add(int(head["seq"]))
        except (KeyError, TypeError, ValueError):
            pass
    return wanted


def _check_heads(report: Report, heads, chain_at: dict[int, bytes], last_seq: int,
                 head_keys: dict[str, bytes]) -> None:
    """Report each signed head the log no longer holds (TRUNCATED, FORKED)."""
    if heads:
        compare_heads(heads, chain_at.get, last_seq, head_keys,
                      lambda what, seq, message: report.add(what, seq, message,
                                                            position=float(seq or 0) + 0.9))
        report.heads += len(heads)


def verify_database(session: Session, trusted_keys: set[str] | None = None, heads=None,
                    head_keys: dict[str, bytes] | None = None) -> Report:
    """Check the whole log against the live rows, and hold it to signed heads; see the module docstring."""
    report = Report()
    wanted = _wanted_seqs(heads)
    chain_at: dict[int, bytes] = {}
    prev_seq, prev_chain = 0, GENESIS
    for e in session.connection().execute(_ledger_walk()):
        report.entries += 1
        chain = _check_link(report, e, prev_seq, prev_chain)
        digest = bytes(e.digest)
        if e.kind == "scan":
            report.scans += 1
            _check_scan(session, report, e, digest)
        elif e.kind in BY_ENTRY_KIND:
            if e.kind == "resolution":
                report.resolutions += 1
            else:
                report.records[e.kind] += 1
            if hashlib.sha256((e.content or "").encode("utf-8")).digest() != digest:
                spec = BY_ENTRY_KIND[e.kind]
                report.add("modified", e.seq, f"the {e.kind.replace('_', ' ')} entry of "
                           f"{spec.kind.replace('_', ' ')} {e.ref} was altered in the ledger",
                           record=spec.kind)
        elif e.kind == "checkpoint":
            report.checkpoints += 1
            _check_checkpoint(report, e, digest, prev_seq, prev_chain, trusted_keys)
        else:
            report.add("modified", e.seq, f"unknown entry kind {e.kind!r}")
        if e.seq in wanted:
            chain_at[e.seq] = chain
        prev_seq, prev_chain = e.seq, chain
    report.head = prev_chain
    _check_heads(report, heads, chain_at, prev_seq, head_keys or {})
    check_records(session, report, prev_seq)
    _check_inserted(session, report)
    report.problems.sort(key=lambda p: p.position)
    return report


def _check_scan(session: Session, report: Report, e, digest: bytes) -> None:
    """Compare one scan entry with its live row."""
    if e.id is None:
        report.add("deleted", e.seq, f"scan {e.ref} (row {e.row_id}) is gone from scan_events",
                   record="scan")
    elif e.uuid != e.ref:
        elsewhere = session.scalar(select(LedgerEntry.seq).where(
            LedgerEntry.kind == "scan", LedgerEntry.ref == e.uuid).limit(1))
        if elsewhere is not None:
            report.add("reordered", e.seq,
                       f"row {e.row_id} was scan {e.ref} when chained but now holds scan {e.uuid}, "
                       f"which the ledger chains at seq {elsewhere}", record="scan")
        else:
            report.add("modified", e.seq, f"scan {e.ref} (row {e.row_id}) now has uuid {e.uuid}",
                       record="scan")
    elif digest_of(scan_content(e, WALK_OFFSET)) != digest:
        report.add("modified", e.seq, f"scan {e.ref} (row {e.row_id}) no longer matches its digest",
                   record="scan")


def _check_checkpoint(report: Report, e, digest: bytes, prev_seq: int, prev_chain: bytes,
                      trusted_keys: set[str] | None) -> None:
    """Check one checkpoint entry: its digest, its signature, and the head it signed."""
    content_bytes = (e.content or "").encode("utf-8")
    if hashlib.sha256(content_bytes).digest() != digest:
        report.add("checkpoint", e.seq, "the checkpoint record was altered")
        return
    content = json.loads(content_bytes)
    if content.get("covers_seq") != prev_seq:
        report.add("checkpoint", e.seq, f"it covers seq {content.get('covers_seq')}, not the entry "
                   f"before it ({prev_seq})")
        return
    why = checkpoint_problem(content, prev_chain, trusted_keys)
    if why:
        report.add("checkpoint", e.seq, why)
    else:
        report.key_ids.add(content["key_id"])
        report.last_checkpoint_seq = e.seq


def _check_inserted(session: Session, report: Report) -> None:
    """Report scan rows that no ledger entry chains, placed after the chained row before them."""
    unchained = ~exists().where(LedgerEntry.kind == "scan", LedgerEntry.row_id == ScanEvent.id)
    count = session.scalar(select(func.count()).select_from(ScanEvent).where(unchained))
    if not count:
        return
    rows = session.execute(select(ScanEvent.id, ScanEvent.uuid).where(unchained)
                           .order_by(ScanEvent.id).limit(MAX_LISTED)).all()
    for row in rows:
        before = session.scalar(select(func.max(LedgerEntry.seq)).where(
            LedgerEntry.kind == "scan", LedgerEntry.row_id < row.id)) or 0
        report.add("inserted", None, f"scan {row.uuid} (row {row.id}) is in scan_events but not "
                   f"in the ledger (after seq {before})", position=before + 0.5, record="scan")
    report.problem_count += count - len(rows)


def region_codes(session: Session, region: Location) -> set[str]:
    """Return the codes of every location in a region."""
    return set(session.scalars(select(Location.code).where(
        Location.path >= region.path, Location.path < region.path + PATH_END)))


def region_scope(session: Session, region: Location) -> Scope:
    """Return what a region's export shows: the codes under it and the codes above it."""
    return Scope(region.path, frozenset(region_codes(session, region)),
                 frozenset(region.ancestor_codes) - {region.code})


def write_export(session: Session, region: Location, out, public_keys: dict[str, bytes]) -> Report:
    """Write the log as seen from one region to the text stream out; return counts."""
    scope = region_scope(session, region)
    codes = scope.codes
    report = Report()
    header = {"format": EXPORT_FORMAT, "region": region.code, "region_name": region.name,
              "region_path": region.path, "exported_at": utc_now().strftime("%Y-%m-%dT%H:%M:%S.%f"),
              "public_keys": {k: base64.b64encode(v).decode("ascii") for k, v in public_keys.items()}}
    out.write(json.dumps(header, sort_keys=True) + "\n")
    for e in session.connection().execute(_ledger_walk()):
        report.entries += 1
        line = {"seq": e.seq, "kind": e.kind, "digest": bytes(e.digest).hex()}
        record = None
        if e.kind == "scan" and e.id is not None and e.location in codes:
            record = scan_content(e, WALK_OFFSET)
        elif e.kind in BY_ENTRY_KIND:
            content = json.loads(e.content)
            if _export_carries(e.kind, content, scope):
                record = content
        elif e.kind == "checkpoint":
            record = json.loads(e.content)
            report.checkpoints += 1
        if record is not None:
            line["chain"] = bytes(e.chain).hex()
            line["record"] = record
            report.region_records += e.kind != "checkpoint"
        out.write(json.dumps(line, sort_keys=True, separators=(",", ":")) + "\n")
        report.head = bytes(e.chain)
    return report


def _export_carries(kind: str, content: dict, scope: Scope) -> bool:
    """Tell whether a region's export carries a chained record's entry in full."""
    if content.get("type") == "resolution":  # written before records were chained
        return content.get("location") in scope.codes
    if kind.endswith(":del"):
        return True  # a removal names only the record's id and ref
    return BY_ENTRY_KIND[kind].in_region(content, scope)


def verify_export(lines, trusted_keys: set[str] | None = None, heads=None) -> Report:
    """Check an export offline: digests of the records, the chain, the signed checkpoints, heads."""
    report = Report()
    wanted = _wanted_seqs(heads)
    chain_at: dict[int, bytes] = {}
    it = iter(lines)
    try:
        header = json.loads(next(it))
    except StopIteration:
        report.add("format", None, "the export is empty")
        return report
    except ValueError:
        report.add("format", None, "line 1 is not JSON: not a Jejak ledger export")
        return report
    if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
        report.add("format", None, f"line 1 does not name the format {EXPORT_FORMAT!r}")
        return report
    if trusted_keys is None:
        trusted_keys = set(header.get("public_keys") or {})
    prev_seq, prev_chain = 0, GENESIS
    last_region_seq = 0
    for number, raw in enumerate(it, start=2):
        try:
            e = json.loads(raw)
            seq, kind, digest = int(e["seq"]), str(e["kind"]), bytes.fromhex(e["digest"])
            chain_given = bytes.fromhex(e["chain"]) if "chain" in e else None
            record = e.get("record")
        except (ValueError, KeyError, TypeError):
            report.add("format", None, f"line {number} is not a ledger entry")
            return report
        report.entries += 1
        if seq != prev_seq + 1:
            report.add("deleted", prev_seq + 1, f"entries {prev_seq + 1}..{seq - 1} are missing")
        chain = link(prev_chain, digest)
        if chain_given is not None and chain_given != chain:
            report.add("reordered", seq, "the chain breaks here: entries before it were reordered, "
                       "removed or altered")
            chain = chain_given
        if record is not None:
            if not isinstance(record, dict) or digest_of(record) != digest:
                report.add("modified", seq, f"the {kind} record {name_of(record)} does not match its digest",
                           record=kind)
            elif kind == "checkpoint":
                report.checkpoints += 1
                why = (f"it covers seq {record.get('covers_seq')}, not {prev_seq}"
                       if record.get("covers_seq") != prev_seq else
                       checkpoint_problem(record, prev_chain, trusted_keys))
                if why:
                    report.add("checkpoint", seq, why)
                else:
                    report.key_ids.add(record["key_id"])
                    report.last_checkpoint_seq = seq
            else:
                report.region_records += 1
                last_region_seq = seq
                report.scans += kind == "scan"
                report.resolutions += kind == "resolution"
                if kind in BY_ENTRY_KIND and kind != "resolution":
                    report.records[kind] += 1
        if seq in wanted:
            chain_at[seq] = chain
        prev_seq, prev_chain = seq, chain
    report.head = prev_chain
    _check_heads(report, heads, chain_at, prev_seq, _header_keys(header, trusted_keys))
    if report.last_checkpoint_seq < last_region_seq:
        report.add("unsigned", last_region_seq, "the region's records after the last signed "
                   f"checkpoint (seq {report.last_checkpoint_seq}) are not proven")
    return report


def _header_keys(header: dict, trusted_keys: set[str] | None) -> dict[str, bytes]:
    """Return the export header's ledger public keys ({id: raw}) a head may be signed with."""
    keys = {}
    for key_id, text in (header.get("public_keys") or {}).items():
        try:
            raw = base64.b64decode(text, validate=True)
        except (ValueError, TypeError):
            continue
        if key_id_of(raw) == key_id and (trusted_keys is None or key_id in trusted_keys):
            keys[key_id] = raw
    return keys


def public_keys_of(private_keys) -> dict[str, bytes]:
    """Return {key_id: raw public bytes} for ledger private keys."""
    out = {}
    for key in private_keys:
        raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        out[key_id_of(raw)] = raw
    return out
