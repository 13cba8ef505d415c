"""What a scanned text names: a signed label, a typed package id and code, or a forgery."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from typing import Callable

from labels.payload import BadSignature, PayloadError, UnknownKey, parse, parse_manual_entry, verify
from server.reconcile.details import describe
from server.reconcile.rules import PlannedPackage

UNCHECKED = "verification code not checked: label not registered"


_VERIFIED_MAX = 100_000


# Digests of verified (label text, key) pairs: a label is scanned at every level,
# an Ed25519 verification costs ~75 us, and the answer never changes for one key.
# 100,000 entries of ~60 bytes: a few MB per worker.
_VERIFIED: set[bytes] = set()


@dataclass
class Resolved:
    """What a scanned text turned out to be."""

    pkg: PlannedPackage | None
    claimed: str = ""
    version: int | None = None
    kind: str | None = None  # forged_label, unknown_package or superseded_label
    # The anomaly's facts (server.reconcile.details); for a good text, a note instead.
    facts: dict | None = None
    about: PlannedPackage | None = None  # the planned package a bad label names, if any
    note: str = ""

    @property
    def detail(self) -> str:
        """Return what is wrong in English (the anomaly's detail), or the note of a good text."""
        return describe(self.kind, self.facts) if self.kind else self.note


def _verified(text: str, label, keys: dict) -> None:
    """Verify a label's signature, remembering good answers per (text, key)."""
    key = keys.get(label.key_id)
    digest = hashlib.blake2b(f"{id(key)}:{text}".encode("utf-8"), digest_size=16).digest()
    if key is not None and digest in _VERIFIED:
        return
    verify(label, keys)
    if len(_VERIFIED) >= _VERIFIED_MAX:
        _VERIFIED.clear()
    _VERIFIED.add(digest)


@functools.lru_cache(maxsize=16384)
def claimed_id(text: str) -> tuple[str, object | None]:
    """Return the package id a text claims and its parsed label (None if not a label)."""
    cleaned = text.strip().upper()
    if cleaned.startswith("J1."):
        try:
            label = parse(cleaned)
        except PayloadError:
            parts = cleaned.split(".")
            return (parts[2][:80] if len(parts) > 2 else ""), None
        return label.package_id, label
    try:
        return parse_manual_entry(cleaned)[0], None
    except PayloadError:
        return cleaned[:80], None


def resolve_text(text: str, keys: dict, plan: dict[str, PlannedPackage], container: bool = False,
                 registry: dict[int, dict[str, int]] | None = None,
                 here: dict[str, PlannedPackage] | None = None,
                 proven: Callable[[str], bool] | None = None) -> Resolved:
    """Tell what a scanned text is: a planned package, or which kind of bad label.

    ``registry`` ({package row id: {verification code: version}}, from
    ``server.labelling.registry``) checks the code of a hand-typed entry.
    ``here`` is the part of ``plan`` bound for the scanner's own region (default:
    all of it): a typed id, which anyone can make up, is looked up only there, so
    a device gets the same answer (``unknown_package``) for a package of another
    region as for one that does not exist.  A signed label proves itself and is
    looked up in the whole plan.
    ``proven`` tells whether the label registry vouches for an exact text
    (``server.labelling.registry.Registered.proves``): this server signed or
    verified it, so its signature is not checked again - if its key is still
    trusted (docs/security.md).
    """
    cleaned = text.strip().upper()
    claimed, label = claimed_id(text)
    about = plan.get(claimed)
    if cleaned.startswith("J1."):
        if label is None:
            try:
                parse(cleaned)  # only to say what is wrong with it
            except PayloadError as exc:
                return Resolved(None, claimed, None, "forged_label",
                                {"why": "unreadable", "package": claimed, "error": str(exc)},
                                about)
        try:
            if label.key_id not in keys or proven is None or not proven(cleaned):
                _verified(cleaned, label, keys)
        except UnknownKey:
            return Resolved(None, claimed, label.version, "forged_label",
                            {"why": "unknown_key", "package": claimed, "key": label.key_id},
                            about)
        except BadSignature:
            return Resolved(None, claimed, label.version, "forged_label",
                            {"why": "bad_signature", "package": claimed, "key": label.key_id},
                            about)
        if about is None:
            return Resolved(None, claimed, label.version, "unknown_package",
                            {"package": claimed, "key": label.key_id}, None)
        if label.version < about.label_version:
            return Resolved(None, claimed, label.version, "superseded_label",
                            {"package": claimed, "version": label.version,
                             "current": about.label_version}, about)
        return Resolved(about, claimed, label.version)
    plan = plan if here is None else here
    about = plan.get(claimed)
    try:
        manual_id = parse_manual_entry(cleaned)[0]
    except PayloadError:
        manual_id = None
    if manual_id is not None or (container and cleaned in plan):
        pid = manual_id or cleaned
        if pid in plan and manual_id is not None:
            return typed_code(plan[pid], parse_manual_entry(cleaned)[1], registry or {})
        if pid in plan:
            return Resolved(plan[pid], pid, None)
        return Resolved(None, pid, None, "unknown_package", {"package": pid, "typed": True},
                        None)
    return Resolved(None, claimed if about else cleaned[:80], None, "forged_label",
                    {"why": "not_label", "package": claimed if about else None,
                     "text": text.strip()[:60]}, about)


def typed_code(pkg: PlannedPackage, code: str, registry: dict[int, dict[str, int]]) -> Resolved:
    """Check a hand-typed verification code against the registered labels of its package."""
    known = registry.get(pkg.id) or {}
    pid, current = pkg.package_id, pkg.label_version
    version = known.get(code)
    if version is not None and version >= current:
        return Resolved(pkg, pid, version)
    if version is not None:
        return Resolved(None, pid, version, "superseded_label",
                        {"package": pid, "code": code, "version": version, "current": current},
                        pkg)
    if not known:
        return Resolved(pkg, pid, None, note=UNCHECKED)
    if current not in known.values():
        # Only older labels are known: a current label printed elsewhere and not
        # imported would be a false alarm, so this code is not judged either.
        return Resolved(pkg, pid, None, note=f"{UNCHECKED} (version {current})")
    return Resolved(None, pid, None, "forged_label",
                    {"why": "typed_code", "package": pid, "code": code, "current": current},
                    pkg)


def _label_key(kind: str, resolved: Resolved, text: str, location: str) -> str:
    """Return the dedup key of a label anomaly: one per forged text, unknown id, old version, place.

    The place (the scan's location code) is part of the key: the same made-up id typed
    in two districts is two problems, each seen by its own district, never one anomaly
    that shows one district's operators and texts to the other.
    """
    if kind == "forged_label":
        digest = hashlib.sha256(text.strip().upper().encode("utf-8")).hexdigest()[:16]
        return f"forged_label:{resolved.claimed or '-'}:{digest}@{location}"
    if kind == "superseded_label":
        return f"superseded_label:{resolved.claimed}:v{resolved.version}@{location}"
    return f"unknown_package:{resolved.claimed}@{location}"
