"""The BAST's shipments and both parties' confirmations (issue 13): figures for ``Bast``.

``handover_shipments`` lists the shipments (surat jalan) from the sender to the
receiver in the BAST's window, each with the figures of its digest
(``server.shipments.confirmations.handover_content``): koli sent and received,
``short_shipment``, ``not_in_shipment``, ``quantity_mismatch`` (planned against
counted units) and ``damaged`` (damaged units, or the receipt's condition), and
the giver's and the receiver's confirmations with their times and ledger seqs (or
none: "not confirmed").  ``shipment_rows`` turns them into the PDF's rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.confirmation import PARTIES
from server.models import LedgerEntry, Location, Shipment, ShipmentReceipt
from server.reconcile.details import KIND_WORDS
from server.reports.localtime import N_, UTC, Translate, local_text
from server.shipments.confirmations import confirmations_of, current_digest
from server.shipments.records import receipt_of


@dataclass
class PartyConfirmation:
    """One side's confirmation of a shipment, as the BAST states it."""

    party: str                  # giver or receiver
    name: str
    device: int
    device_name: str
    location: str
    confirmed_at: dt.datetime   # the device's time
    recorded_at: dt.datetime    # the server's
    digest: str
    covers_receipt: bool
    seq: int | None             # its ledger entry
    current: bool               # its digest is the shipment's digest now


@dataclass
class ShipmentPart:
    """A shipment of the handover: its counts, discrepancies, digest and confirmations."""

    number: str
    closed_at: dt.datetime
    received_at: dt.datetime | None
    sent: int
    received: int | None
    short_shipment: list[str] = field(default_factory=list)
    not_in_shipment: list[str] = field(default_factory=list)
    quantity_mismatch: list[tuple[str, int | None, int]] = field(default_factory=list)
    damaged: list[tuple[str, int | None, str]] = field(default_factory=list)
    digest: str = ""
    confirmations: dict[str, PartyConfirmation | None] = field(default_factory=dict)


def _ledger_seqs(session: Session, ids: list[int]) -> dict[int, int]:
    """Return the seq of the latest ledger entry of each confirmation row id."""
    if not ids:
        return {}
    return {row_id: seq for row_id, seq in session.execute(
        select(LedgerEntry.row_id, LedgerEntry.seq)
        .where(LedgerEntry.kind == "confirmation", LedgerEntry.row_id.in_(ids))
        .order_by(LedgerEntry.seq))}


def handover_shipments(session: Session, sender: Location, receiver: Location,
                       start: dt.datetime | None = None, end: dt.datetime | None = None
                       ) -> list[ShipmentPart]:
    """Return the shipments from sender to receiver received (or, if not, closed) in the window."""
    q = (select(Shipment).outerjoin(ShipmentReceipt, ShipmentReceipt.shipment_id == Shipment.id)
         .where(Shipment.origin_id == sender.id, Shipment.destination_id == receiver.id)
         .order_by(Shipment.id))
    out = []
    for shipment in session.scalars(q):
        receipt = receipt_of(session, shipment)
        when = receipt.closed_at if receipt is not None else shipment.closed_at
        if start is not None and not (start <= when < end):
            continue
        now = current_digest(session, shipment)
        content = now.content
        part = ShipmentPart(shipment.number, shipment.closed_at,
                            receipt.closed_at if receipt is not None else None,
                            len(content["koli"]), None, digest=now.digest)
        got = content["receipt"]
        if got is not None:
            part.received = len(got["koli"])
            part.short_shipment = list(got["short_shipment"])
            part.not_in_shipment = list(got["not_in_shipment"])
            lines = {k["package"]: k for k in got["koli"]}
            part.quantity_mismatch = [(p, lines[p]["quantity"], lines[p]["counted"])
                                      for p in got["quantity_mismatch"]]
            part.damaged = [(p, lines[p]["damaged"], lines[p]["condition"])
                            for p in got["damaged"]]
        mine = confirmations_of(session, shipment)
        seqs = _ledger_seqs(session, [c.id for c in mine.values()])
        for party in PARTIES:
            c = mine.get(party)
            if c is None:
                part.confirmations[party] = None
                continue
            signed_now = now.digest if c.covers_receipt else \
                current_digest(session, shipment, with_receipt=False).digest
            part.confirmations[party] = PartyConfirmation(
                party, c.name, c.device_id, c.device.name, c.location.code, c.confirmed_at,
                c.recorded_at, c.digest, c.covers_receipt, seqs.get(c.id),
                c.digest == signed_now)
        out.append(part)
    return out


def seal_content(parts: list[ShipmentPart]) -> list[dict]:
    """Return what the BAST's QR says of each shipment: number, digest, both confirmations' seqs."""
    return [{"number": p.number, "digest": p.digest,
             **{party: (c.seq if c is not None else None) for party, c in
                ((party, p.confirmations.get(party)) for party in PARTIES)}}
            for p in parts]


PARTY_WORDS = {"giver": N_("First party (gives)"), "receiver": N_("Second party (receives)")}


def discrepancy_text(part: ShipmentPart, t: Translate) -> list[str]:
    """Return a shipment's discrepancies in words, one line per kind (none: an empty list)."""
    lines = []
    if part.received is None:
        return [t(N_("not received yet"))]
    if part.short_shipment:
        lines.append(f"{t(KIND_WORDS['short_shipment'])}: {', '.join(part.short_shipment)}")
    if part.not_in_shipment:
        lines.append(f"{t(KIND_WORDS['not_in_shipment'])}: {', '.join(part.not_in_shipment)}")
    for pid, planned, counted in part.quantity_mismatch:
        lines.append(f"{t(KIND_WORDS['quantity_mismatch'])}: {pid} "
                     + t(N_("counted {counted}, label says {planned}")).format(
                         counted=counted, planned=planned if planned is not None else "-"))
    for pid, units, condition in part.damaged:
        what = t(N_("{units} units damaged")).format(units=units) if units else \
            (t(N_("seal broken")) if condition == "seal_broken" else t(N_("damaged")))
        lines.append(f"{t(KIND_WORDS['damaged'])}: {pid} ({what})")
    return lines


def confirmation_text(c: PartyConfirmation | None, t: Translate, tz: dt.tzinfo = UTC) -> str:
    """Return one side's confirmation in words: who, on which device, when - or not confirmed."""
    if c is None:
        return t(N_("not confirmed"))
    text = t(N_("confirmed by {name} on device {device} ({device_name}) at {place}, "
                "{at}; recorded {recorded}, ledger seq {seq}")).format(
        name=c.name, device=c.device, device_name=c.device_name, place=c.location,
        at=local_text(c.confirmed_at, tz, seconds=False),
        recorded=local_text(c.recorded_at, tz, seconds=False), seq=c.seq if c.seq else "-")
    if not c.current:
        text += ". " + t(N_("The shipment changed after this confirmation: it confirms an "
                            "earlier state (digest {digest}...).")).format(digest=c.digest[:16])
    return text



def parties_flowables(parts: list[ShipmentPart], t: Translate, esc, tz: dt.tzinfo, body, small,
                      bold, h2) -> list:
    """Return the BAST's section on its shipments and both parties' confirmations (none: [])."""
    if not parts:
        return []
    # reportlab only when a BAST is drawn.
    from reportlab.lib import colors
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, Table, TableStyle

    rows = [[Paragraph(esc(t(w)), bold) for w in (
        N_("Shipment"), N_("Koli sent / received"), N_("Discrepancies"),
        N_("Confirmations"))]]
    for part in parts:
        got = "-" if part.received is None else str(part.received)
        found = discrepancy_text(part, t) or [t(N_("none"))]
        confirmed = [f"<b>{esc(t(PARTY_WORDS[party]))}</b>: "
                     f"{esc(confirmation_text(part.confirmations.get(party), t, tz))}"
                     for party in PARTY_WORDS]
        rows.append([Paragraph(f"<b>{esc(part.number)}</b><br/><font size=6>"
                               f"{esc(part.digest[:16])}...</font>", small),
                     Paragraph(f"{part.sent} / {got}", small),
                     Paragraph("<br/>".join(esc(line) for line in found), small),
                     Paragraph("<br/>".join(confirmed), small)])
    table = Table(rows, colWidths=[26 * mm, 20 * mm, 52 * mm, 72 * mm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8ecf0")),
                               ("FONTSIZE", (0, 0), (-1, -1), 8),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Paragraph(esc(t(N_("Shipments (surat jalan) and both parties' confirmations"))), h2),
            table, Paragraph(esc(t(N_(
                "Each party confirms on its own device by signing the shipment's digest with "
                "the device's key; the giver's confirmation covers the counts at the receipt "
                "when it was made after it."))), small)]
