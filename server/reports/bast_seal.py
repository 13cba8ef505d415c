"""The BAST's QR: a seal anyone can check against the log, offline.

The QR text is ``JBAST1.<payload>.<signature>``, both parts base64url without
padding.  The payload is canonical JSON (``server.ledger.content.canonical``)::

    {"v": 1, "from": sender code, "to": receiver code, "day": "2024-02-10" or null,
     "tz": the zone the day is in, "figures": sha256 of the figure lines,
     "shipments": [{"number", "digest", "giver": ledger seq or null, "receiver": ...}],
     "ledger": {"seq", "chain"} (the log's last entry when the BAST was made),
     "issued_at", "key_id", "public_key"}

and the signature is the server's ledger key (``server.ledger.checkpoints``, the
key that signs checkpoints and heads) over ``jejak-bast-v1:`` + the payload.

``check_seal(session, text)`` names every way the BAST and the log disagree: a
signature that does not verify (or a key not trusted), a ledger entry missing or
rewritten, figures the log no longer gives, a shipment missing, a digest that
differs, a confirmation missing from the log or whose device signature does not
verify with the device key the log chained.  ``read_seal(path)`` takes the text
from a BAST PDF (its QR, rendered with pdftoppm and read with zxing-cpp; the copy
embedded in the PDF's Subject when pdftoppm is not installed) or a text file.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.confirmation import confirmation_message, public_key_raw, verify
from server.errors import DomainError
from server.ledger.checkpoints import _public_raw, key_id_of
from server.ledger.content import _time, canonical, digest_of
from server.models import LedgerEntry, Location, Shipment, utc_now
from server.reports.bast import FIGURES, Bast, bast_data
from server.reports.bast_parties import seal_content
from server.reports.localtime import zone
from server.shipments.confirmations import current_digest

PREFIX = "JBAST1."
SIGNED_PREFIX = b"jejak-bast-v1:"


class BastSealError(DomainError):
    """A text or file that holds no BAST seal (the message says what was found instead)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def figures_digest(data: Bast) -> str:
    """Return the sha256 (hex) of the BAST's figure lines, as the seal covers them."""
    lines = [{"item_type": tl.item_type, **{k: getattr(tl, k) for k in FIGURES}}
             for tl in data.lines]
    return hashlib.sha256(canonical({"lines": lines})).hexdigest()


def seal_text(session: Session, data: Bast, private_key, tz: dt.tzinfo,
              now: dt.datetime | None = None) -> str:
    """Return the QR text sealing a BAST with the ledger key."""
    last = session.execute(select(LedgerEntry.seq, LedgerEntry.chain)
                           .order_by(LedgerEntry.seq.desc()).limit(1)).first()
    public_raw = _public_raw(private_key)
    payload = {"v": 1, "from": data.sender.code, "to": data.receiver.code,
               "day": data.day.isoformat() if data.day else None,
               "tz": getattr(tz, "key", None) or "UTC", "figures": figures_digest(data),
               "shipments": seal_content(data.shipments),
               "ledger": {"seq": last.seq if last else 0,
                          "chain": bytes(last.chain).hex() if last else None},
               "issued_at": _time(now or utc_now()), "key_id": key_id_of(public_raw),
               "public_key": base64.b64encode(public_raw).decode("ascii")}
    body = canonical(payload)
    return f"{PREFIX}{_b64(body)}.{_b64(private_key.sign(SIGNED_PREFIX + body))}"


def parse_seal(text: str) -> tuple[dict, bytes, bytes]:
    """Return (payload, signed bytes, signature) of a seal text, else raise BastSealError."""
    text = (text or "").strip()
    if not text.startswith(PREFIX) or text.count(".") != 2:
        raise BastSealError(f"{text[:40]!r} is not a BAST's QR text (it starts with {PREFIX})")
    _, body_text, sig_text = text.split(".")
    try:
        body, signature = _unb64(body_text), _unb64(sig_text)
        payload = json.loads(body)
    except (binascii.Error, ValueError):
        raise BastSealError("the BAST's QR text is damaged: its parts are not base64 JSON") \
            from None
    if not isinstance(payload, dict) or payload.get("v") != 1:
        raise BastSealError("the BAST's QR holds no version 1 seal")
    return payload, SIGNED_PREFIX + body, signature


def _signature_problem(payload: dict, signed: bytes, signature: bytes,
                       trusted: set[str] | None) -> str | None:
    try:
        raw = base64.b64decode(payload["public_key"], validate=True)
        Ed25519PublicKey.from_public_bytes(raw).verify(signature, signed)
    except (KeyError, TypeError, ValueError, binascii.Error, InvalidSignature):
        return "signature: the BAST's seal does not verify with the key it names: it was altered"
    if key_id_of(raw) != payload.get("key_id"):
        return f"signature: key id {payload.get('key_id')!r} is not the id of the key it carries"
    if trusted is not None and key_id_of(raw) not in trusted:
        return (f"signature: signed by ledger key {key_id_of(raw)}, not by the ledger key you "
                f"trust ({', '.join(sorted(trusted)) or 'none'})")
    return None


def _entry(session: Session, seq) -> LedgerEntry | None:
    return session.get(LedgerEntry, seq) if isinstance(seq, int) else None


def _ledger_problem(session: Session, ledger: dict) -> str | None:
    seq = ledger.get("seq") if isinstance(ledger, dict) else None
    if not seq:
        return None
    entry = _entry(session, seq)
    if entry is None:
        last = session.scalar(select(LedgerEntry.seq).order_by(LedgerEntry.seq.desc()).limit(1))
        return f"missing from log: the BAST saw the log at seq {seq}, the log ends at {last or 0}"
    if bytes(entry.chain).hex() != ledger.get("chain"):
        return (f"ledger: the log at seq {seq} is not the log the BAST saw (chain "
                f"{bytes(entry.chain).hex()[:16]}..., the BAST says "
                f"{str(ledger.get('chain'))[:16]}...): history was rewritten")
    return None


def _device_keys(session: Session, device_id) -> set[str]:
    """Return every public key the log chained for a device."""
    keys = set()
    for content in session.scalars(select(LedgerEntry.content).where(
            LedgerEntry.kind == "device", LedgerEntry.row_id == device_id)):
        key = json.loads(content or "{}").get("public_key")
        if key:
            keys.add(key)
    return keys


def _confirmation_problems(session: Session, shipment: Shipment, party: str, seq) -> list[str]:
    who = f"the {party}'s confirmation of {shipment.number}"
    entry = _entry(session, seq)
    if entry is None or entry.kind != "confirmation":
        return [f"{who}: missing from log at seq {seq}"]
    content = json.loads(entry.content or "{}")
    if digest_of(content) != bytes(entry.digest):
        return [f"{who}: its ledger entry at seq {seq} was modified"]
    if content.get("shipment") != shipment.number or content.get("party") != party:
        other = f"{content.get('shipment')} {content.get('party')}"
        return [f"{who}: the log's entry at seq {seq} is another record ({other})"]
    problems = []
    try:
        raw = public_key_raw(content.get("public_key"))
        good = verify(raw, confirmation_message(shipment.number, party, content["digest"]),
                      content.get("signature", ""))
    except (ValueError, KeyError):
        good = False
    if not good:
        problems.append(f"{who}: its device signature does not verify")
    if content.get("public_key") not in _device_keys(session, content.get("device")):
        problems.append(f"{who}: device {content.get('device')}'s key in the log is not the key "
                        f"that signed it (a swapped key)")
    made = current_digest(session, shipment, with_receipt=bool(content.get("covers_receipt")))
    if made.digest != content.get("digest"):
        problems.append(f"digest: {who} signed {str(content.get('digest'))[:16]}..., the log "
                        f"now makes {made.digest[:16]}...")
    return problems


def check_seal(session: Session, text: str, trusted: set[str] | None = None
               ) -> tuple[dict, list[str]]:
    """Return a BAST seal's payload and every way it and the log disagree (none: it matches)."""
    payload, signed, signature = parse_seal(text)
    problems = []
    if (p := _signature_problem(payload, signed, signature, trusted)):
        problems.append(p)
    if (p := _ledger_problem(session, payload.get("ledger"))):
        problems.append(p)
    sender = session.scalar(select(Location).where(Location.code == str(payload.get("from"))))
    receiver = session.scalar(select(Location).where(Location.code == str(payload.get("to"))))
    if sender is None or receiver is None:
        problems.append(f"missing from log: the places {payload.get('from')!r} and "
                        f"{payload.get('to')!r} are not both known")
    else:
        try:
            day = dt.date.fromisoformat(payload["day"]) if payload.get("day") else None
            tz = zone(payload.get("tz"))
        except (ValueError, TypeError):
            day, tz = None, zone(None)
            problems.append(f"the seal's day {payload.get('day')!r} or zone is not valid")
        data = bast_data(session, sender, receiver, day, tz)
        if figures_digest(data) != payload.get("figures"):
            problems.append("figures: the BAST's counts are not the counts the log gives now")
    for item in payload.get("shipments") or []:
        number = str(item.get("number"))
        shipment = session.scalar(select(Shipment).where(Shipment.number == number))
        if shipment is None:
            problems.append(f"missing from log: shipment {number}")
            continue
        now = current_digest(session, shipment).digest
        if now != item.get("digest"):
            problems.append(f"digest: shipment {number} is {now[:16]}... in the log, the BAST "
                            f"says {str(item.get('digest'))[:16]}...")
        for party in ("giver", "receiver"):
            if item.get(party) is not None:
                problems += _confirmation_problems(session, shipment, party, item[party])
    return payload, problems


def summary(payload: dict) -> str:
    """Return what a seal covers, in one line."""
    shipments = payload.get("shipments") or []
    confirmed = sum(1 for s in shipments for p in ("giver", "receiver") if s.get(p) is not None)
    return (f"BAST {payload.get('from')} -> {payload.get('to')} ({payload.get('day') or 'all dates'}"
            f"): {len(shipments)} shipments, {confirmed} confirmations, ledger seq "
            f"{(payload.get('ledger') or {}).get('seq')}, key {payload.get('key_id')}")


SUBJECT = re.compile(rb"/Subject\s*\((" + re.escape(PREFIX.encode()) + rb"[A-Za-z0-9_.=-]+)\)")


def read_seal(path: str | Path) -> tuple[str, str]:
    """Return a BAST's seal text and where it was read (its QR, the PDF's Subject, the text)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise BastSealError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    if not data.startswith(b"%PDF"):
        return data.decode("ascii", "replace").strip(), "text"
    if shutil.which("pdftoppm"):
        # The printed QR is what a reader checks: render each page and read it.
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(["pdftoppm", "-r", "200", "-gray", str(path),
                                   str(Path(tmp) / "page")], capture_output=True, check=False)
            if done.returncode != 0:
                raise BastSealError(f"pdftoppm cannot render {str(path)!r}: "
                                    f"{done.stderr.decode(errors='replace')[:200]}")
            texts = _qr_texts(sorted(Path(tmp).glob("page*.pgm")))
        if texts:
            return texts[0], "QR"
    embedded = SUBJECT.search(data)
    if embedded:
        return embedded.group(1).decode("ascii"), "embedded copy"
    raise BastSealError(f"{str(path)!r} carries no BAST QR (a BAST made before issue 13, or "
                        f"another PDF)")


def _qr_texts(pages: list[Path]) -> list[str]:
    """Return the BAST seal texts read from rendered PGM pages, last page first."""
    # zxing-cpp (through labels.qr) only when a PDF is read.
    from labels.qr import read_pgm_texts

    out = []
    for page in reversed(pages):
        out += [t for t in read_pgm_texts(page.read_bytes()) if t.startswith(PREFIX)]
    return out
