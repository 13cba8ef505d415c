"""Checks a scanner makes on the spot, without the network.

When the server is reachable the station caches, in the outbox file, the trusted public label
keys (`GET /api/v1/keys`) and the packages its location should see (`GET
/api/v1/locations/<code>/expected`).  Every scan is then judged immediately, offline too:

* red ("problem"): a text that is not a Jejak label; a forged label (signature invalid or key
  not trusted, via `labels.payload.verify`); a superseded label (its version is older than the
  cached current version of the package); a package not expected here; a wrong route (the
  label's destination is not under this location, so this location is not on its way); at a
  TPS, a ballot whose dapil is not one of the TPS's; a manual entry whose verification code
  differs from the cached one;
* amber ("warning"): recorded with a problem the person reported or the label shows - damaged,
  seal broken, a count that differs from the plan - or not checked because the device never
  synced (no keys or no expected list cached yet: a forged label would pass, so never green);
* amber ("rescan"): the package was already scanned here with this action (the outbox keeps
  every scan, so this holds across restarts);
* green ("accepted"): everything else.

A verdict gives one reason, its worst: a forged label reads "forged label ...", not "already
scanned here; forged label" (the others stay in ``reasons``, worst first).

Every one of them is still recorded and uploaded: the server records forged and unknown codes
as evidence and raises its own anomalies; the scanner's verdict is for the person holding the box.

Location codes are the hierarchical BPS codes (35 -> 3513 -> 351301 -> 3513010001 -> ...), so
"destination under this location" is a code-prefix test.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from labels.payload import (BadSignature, PayloadError, SignedLabel, SupersededLabel, UnknownKey,
                            parse, parse_manual_entry, verify)

from .outbox import Outbox

ACCEPTED, RESCAN, WARNING, PROBLEM = "accepted", "rescan", "warning", "problem"
# Worst last: a verdict's signal is its worst reason's, and that reason comes first.
SEVERITY = {ACCEPTED: 0, RESCAN: 1, WARNING: 2, PROBLEM: 3}
DISPOSITION_WORDS = {"damaged": "recorded as damaged", "seal_broken": "recorded with the seal broken"}
NEVER_SYNCED = "not checked: never synced"


@dataclass
class Verdict:
    """What the station says about one scan: signal, reasons (worst first), what it identified."""

    signal: str = ACCEPTED
    reasons: list[str] = field(default_factory=list)
    package_id: str | None = None
    label: SignedLabel | None = None
    code: str = ""  # the text sent to the server
    rescan: bool = False  # already scanned here with this action
    _ranks: list[int] = field(default_factory=list, repr=False)

    def _add(self, signal: str, reason: str) -> None:
        """Add a reason after those at least as bad; the signal is the worst one's."""
        rank = SEVERITY[signal]
        at = next((i for i, r in enumerate(self._ranks) if r < rank), len(self._ranks))
        self._ranks.insert(at, rank)
        self.reasons.insert(at, reason)
        if rank > SEVERITY[self.signal]:
            self.signal = signal

    def problem(self, reason: str) -> None:
        """Turn the verdict red with a reason."""
        self._add(PROBLEM, reason)

    def warn(self, reason: str) -> None:
        """Turn the verdict amber (unless worse) with a reason: recorded with a problem."""
        self._add(WARNING, reason)

    def again(self, reason: str) -> None:
        """Mark the verdict a re-scan (amber unless worse)."""
        self._add(RESCAN, reason)

    def note(self, reason: str) -> None:
        """Add a reason without changing the signal (after every other)."""
        self._add(ACCEPTED, reason)

    @property
    def reason(self) -> str:
        """Return the one reason the person reads: the worst."""
        return self.reasons[0] if self.reasons else ""


def manual_code(package_id: str, verification: str) -> str:
    """Return the code text a manual entry is recorded and sent as: '<PACKAGE-ID> <XXXX-XXXX>'.

    This is the canonical form of `labels.payload.parse_manual_entry`, which the server's
    ingest also uses to recognise hand-typed entries.
    """
    return f"{package_id} {verification}"


def as_manual_entry(text: str) -> tuple[str, str] | None:
    """Return (package_id, code) when a typed line is a manual entry, else None."""
    if text.strip().upper().startswith("J1."):
        return None
    try:
        return parse_manual_entry(text)
    except PayloadError:
        return None


def on_route(location: str, destination: str) -> bool:
    """Return whether a location lies on the way to a destination (itself or an ancestor)."""
    return destination.startswith(location)


class Checker:
    """Judge scanned texts against the cache in an outbox."""

    def __init__(self, outbox: Outbox):
        self.outbox = outbox
        self._keys: dict | None = None
        self._keys_pem: dict | None = None

    def keys(self) -> dict | None:
        """Return the cached trusted keys as {key_id: public key}, or None if never cached."""
        pems = self.outbox.cached_keys()
        if pems is None:
            return None
        if pems != self._keys_pem:
            from labels.keys import load_public_key_pem

            loaded = {}
            for key_id, pem in pems.items():
                try:
                    loaded[key_id] = load_public_key_pem(pem, f"cached key {key_id}")
                except ValueError:
                    continue  # an unreadable cached key is an untrusted key, nothing more
            self._keys, self._keys_pem = loaded, pems
        return self._keys

    def check(self, text: str, location: str, action: str, disposition: str = "ok") -> Verdict:
        """Judge one scanned (or typed) text at a location and action, recorded as ``disposition``."""
        manual = as_manual_entry(text)
        if manual:
            verdict = self._check_manual(*manual, location)
        else:
            verdict = self._check_label(text, location)
        if disposition in DISPOSITION_WORDS:
            verdict.warn(DISPOSITION_WORDS[disposition])
        never = [what for what, missing in (("no keys", self.keys() is None and not manual),
                                             ("no expected list",
                                              not self.outbox.expected_fetched(location)))
                 if missing]
        if never:
            verdict.warn(f"{NEVER_SYNCED} ({' or '.join(never)} cached yet)")
        key = verdict.package_id or verdict.code
        if self.outbox.seen_before(location, action, key):
            verdict.rescan = True
            verdict.again(f"already scanned here ({action})")
        return verdict

    def _check_label(self, text: str, location: str) -> Verdict:
        """Judge a scanned label: shape, signature, version, place."""
        verdict = Verdict(code=text.strip())
        try:
            label = parse(text)
        except PayloadError as exc:
            verdict.problem(str(exc))
            return verdict
        verdict.code, verdict.label, verdict.package_id = label.text, label, label.package_id
        planned = self.outbox.expected_package(location, label.package_id)
        keys = self.keys()
        if keys is not None:  # else: not checked, never synced (said once, in check)
            current = planned.get("label_version") if planned else None
            try:
                verify(label, keys, current_version=current)
            except UnknownKey:
                verdict.problem(f"forged label: signing key {label.key_id} is not trusted")
            except SupersededLabel as exc:
                verdict.problem(f"superseded label: version {label.version}, "
                                f"current is {exc.current_version}")
            except BadSignature:
                verdict.problem("forged label: signature does not match")
        self._check_place(verdict, label.package_id, label.destination, planned, location)
        self._check_dapil(verdict, label, location)
        # A count is read from a label only when the label itself is good.
        if (verdict.signal != PROBLEM and planned and planned.get("quantity") is not None
                and planned["quantity"] != label.quantity):
            verdict.warn(f"count differs: label says {label.quantity}, the plan says "
                         f"{planned['quantity']}")
        return verdict

    def _check_dapil(self, verdict: Verdict, label: SignedLabel, location: str) -> None:
        """Flag a ballot whose dapil is not one of this TPS's dapils (the 2024 failure)."""
        info = self.outbox.expected_location(location)
        dapils = info.get("dapil") or []
        if label.dapil and info.get("level") == "tps" and dapils and label.dapil not in dapils:
            verdict.problem(f"wrong dapil: ballot of {label.dapil}, this TPS votes in "
                            f"{', '.join(dapils)}")

    def _check_manual(self, package_id: str, code: str, location: str) -> Verdict:
        """Judge a typed 'PACKAGE-ID XXXX-XXXX' entry against the cached plan."""
        verdict = Verdict(code=manual_code(package_id, code), package_id=package_id)
        verdict.note("manual entry")
        planned = self.outbox.expected_package(location, package_id)
        if planned and planned.get("verification_code"):
            if planned["verification_code"].upper() != code:
                verdict.problem(f"verification code {code} does not match this package's label")
        destination = planned.get("destination") if planned else None
        self._check_place(verdict, package_id, destination, planned, location)
        return verdict

    def _check_place(self, verdict: Verdict, package_id: str, destination: str | None,
                     planned: dict | None, location: str) -> None:
        """Flag a wrong route or a package this location does not expect."""
        if destination and not on_route(location, destination):
            verdict.problem(f"wrong route: destination {destination} is not under {location}")
            return
        if not self.outbox.expected_fetched(location):
            return  # not checked, never synced (said once, in check)
        if planned is None:
            verdict.problem(f"package {package_id} is not expected here")
        elif destination and planned.get("destination") and planned["destination"] != destination:
            verdict.problem(f"label says destination {destination}, "
                            f"the plan says {planned['destination']}")
