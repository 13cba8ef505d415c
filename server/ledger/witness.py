"""A witness: fetch the server's signed head on a schedule and keep it where the server cannot reach.

``jejak-server witness --server URL --token T --dir D`` (``server.cli.ledger``)
calls :func:`witness` with a ``fetch(path, params) -> JSON`` over HTTP; tests
pass one over the Flask test client.  In ``D`` it keeps

* ``ledger-key.json`` - the ledger public key, pinned the first time (or given
  with ``--public-key``); a head signed by another key is refused;
* ``heads.jsonl`` - every head it accepted, one JSON object a line, the file
  ``jejak-server verify-log --head D/heads.jsonl`` takes;
* ``latest.json`` - the newest of them.

A new head is accepted only if it extends the previous one: the witness fetches
the digests of the entries between the two (``GET /api/v1/ledger/entries``) and
recomputes the chain from the previous head's chain to the new seq.  A server
whose log was cut short answers a lower seq (``TRUNCATED``); one whose history
was rewritten cannot produce digests that lead from the old chain to the new
(``FORKED``).  Either way nothing is written, and the exit status says so.
"""

from __future__ import annotations

import base64
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from server.ledger.checkpoints import key_id_of
from server.ledger.content import LedgerError, link
from server.ledger.heads import head_problem

KEY_FILE = "ledger-key.json"
HEADS_FILE = "heads.jsonl"
LATEST_FILE = "latest.json"
PAGE = 10_000


class WitnessError(LedgerError):
    """The server's answers cannot be used (not JSON, missing fields, a key mismatch)."""


@dataclass
class WitnessResult:
    """What one run of the witness found."""

    head: dict | None = None
    previous: dict | None = None
    problems: list[str] = field(default_factory=list)
    pinned_now: bool = False
    entries_checked: int = 0

    @property
    def ok(self) -> bool:
        """Tell whether the new head was accepted."""
        return not self.problems


def _pinned_key(fetch: Callable, directory: Path, given: bytes | None,
                result: WitnessResult) -> dict[str, bytes]:
    """Return the pinned ledger key {id: raw}, pinning the given or the server's on first use."""
    path = directory / KEY_FILE
    if path.exists():
        saved = json.loads(path.read_text(encoding="utf-8"))
        raw = base64.b64decode(saved["public_key"])
        if given is not None and given != raw:
            raise WitnessError(f"{path} pins ledger key {saved['key_id']}, not the key given")
        return {saved["key_id"]: raw}
    if given is None:
        answer = fetch("/api/v1/ledger/key", {})
        try:
            given = base64.b64decode(answer["public_key"], validate=True)
        except (KeyError, TypeError, ValueError):
            raise WitnessError("the server's /api/v1/ledger/key answer holds no public key") from None
    key_id = key_id_of(given)
    _write(path, json.dumps({"key_id": key_id,
                             "public_key": base64.b64encode(given).decode("ascii")}) + "\n")
    result.pinned_now = True
    return {key_id: given}


def _last_head(directory: Path) -> dict | None:
    """Return the newest head the witness accepted before (None on the first run)."""
    path = directory / LATEST_FILE
    if not path.exists():
        return None
    return json.loads(path.read_text(encoding="utf-8"))


def _chain_from(fetch: Callable, start: dict, end_seq: int, result: WitnessResult) -> bytes:
    """Recompute the chain from the head ``start`` to ``end_seq`` from the server's digests."""
    seq, chain = int(start["seq"]), bytes.fromhex(start["chain"])
    while seq < end_seq:
        answer = fetch("/api/v1/ledger/entries", {"after": seq, "limit": min(PAGE, end_seq - seq)})
        entries = answer.get("entries") if isinstance(answer, dict) else None
        if not entries:
            raise WitnessError(f"the server gave no ledger entries after seq {seq} "
                               f"although its head is at seq {end_seq}")
        for entry in entries:
            if int(entry["seq"]) != seq + 1:
                raise WitnessError(f"the server skipped from seq {seq} to {entry['seq']}")
            if seq + 1 > end_seq:
                break
            chain = link(chain, bytes.fromhex(entry["digest"]))
            seq += 1
            result.entries_checked += 1
    return chain


def witness(fetch: Callable, directory, public_key: bytes | None = None) -> WitnessResult:
    """Fetch, check and keep the server's signed head in directory; see the module docstring."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    result = WitnessResult()
    keys = _pinned_key(fetch, directory, public_key, result)
    head = fetch("/api/v1/ledger/head", {})
    why = head_problem(head, keys)
    if why:
        result.problems.append(f"HEAD: the server's head is refused: {why}")
        return result
    result.head = head
    previous = result.previous = _last_head(directory)
    if previous is not None:
        new_seq, old_seq = int(head["seq"]), int(previous["seq"])
        if new_seq < old_seq:
            result.problems.append(
                f"TRUNCATED: the server's head is at seq {new_seq}, but it signed seq {old_seq} "
                f"at {previous['signed_at']}: {old_seq - new_seq} entries were removed from its end")
        elif new_seq == old_seq and head["chain"] != previous["chain"]:
            result.problems.append(f"FORKED: at seq {new_seq} the server now signs chain "
                                   f"{head['chain'][:16]}..., it signed {previous['chain'][:16]}...")
        elif new_seq > old_seq:
            try:
                chain = _chain_from(fetch, previous, new_seq, result)
            except (KeyError, TypeError, ValueError) as exc:
                raise WitnessError(f"the server's ledger entries are not readable: {exc}") from None
            if chain.hex() != head["chain"]:
                result.problems.append(
                    f"FORKED: the head at seq {new_seq} does not extend the one the server signed "
                    f"at seq {old_seq} ({previous['signed_at']}): history up to seq {old_seq} "
                    "was rewritten")
    if result.problems:
        return result
    if previous is None or int(head["seq"]) != int(previous["seq"]) or head != previous:
        with open(directory / HEADS_FILE, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(head, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        _write(directory / LATEST_FILE, json.dumps(head, sort_keys=True) + "\n")
    return result


def _write(path: Path, text: str) -> None:
    """Write a file whole or not at all (a cron run killed midway leaves the old one)."""
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
