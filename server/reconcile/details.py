"""Anomaly details: a kind plus structured facts, put in words for one reader.

The rules and ingest store each anomaly's *facts* (``Anomaly.facts_json``): plain
JSON, places as ``{"level", "code", "name"}``, instants as UTC ISO 8601 text
(``"2024-02-12T05:00:00Z"``), durations in minutes.  ``describe(kind, facts,
translate, when)`` turns them into the sentence a person reads, in the reader's
language (``translate``, e.g. Flask-Babel's gettext) and time zone (``when``, a
formatter of UTC instants).  ``Anomaly.detail`` - the API's compatibility field -
is ``describe`` in English with UTC times, written when the anomaly is stored, so
the English and the Indonesian sentence come from the same facts and templates.

Each kind's facts are documented in docs/anomalies.md ("Facts").  Plain Python,
no Flask: reports and the CLI render with the ``translate`` they are given.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Callable


def N_(text: str) -> str:
    """Mark a string for translation without translating it (pybabel extracts N_)."""
    return text


Translate = Callable[[str], str]
When = Callable[[dt.datetime], str]


def _same(text: str) -> str:
    """Translate to English: the msgids are English."""
    return text


def utc_text(value: dt.datetime) -> str:
    """Return a UTC instant as the stored English detail shows it."""
    return value.strftime("%Y-%m-%d %H:%M UTC")


# The words for each kind (the BAST, the dashboard and the exports name kinds with these).
KIND_WORDS = {"missing": N_("missing"), "duplicate_scan": N_("duplicate scan"),
              "cloned_label": N_("cloned label"), "misrouted": N_("misrouted"),
              "wrong_dapil": N_("wrong dapil"), "forged_label": N_("forged label"),
              "unknown_package": N_("unknown package"), "superseded_label": N_("superseded label"),
              "custody_gap": N_("custody gap"), "late": N_("late"), "damaged": N_("damaged"),
              "seal_mismatch": N_("seal mismatch"), "quantity_mismatch": N_("quantity mismatch"),
              "missing_return": N_("missing return"), "short_shipment": N_("short shipment"),
              "not_in_shipment": N_("not in shipment")}

LEVEL_WORDS = {"province": N_("province"), "regency": N_("regency"), "district": N_("district"),
               "village": N_("village"), "tps": N_("TPS")}

ACTION_WORDS = {"receive": N_("receive"), "dispatch": N_("dispatch"), "pack": N_("pack"),
                "unpack": N_("unpack"), "inspect": N_("inspect"), "handover": N_("handover"),
                "return": N_("return")}

CONDITION_WORDS = {"damaged": N_("damaged"), "seal_broken": N_("seal broken")}


def place(loc) -> dict:
    """Return a location (anything with level, code, name) as facts name it."""
    return {"level": loc.level, "code": loc.code, "name": loc.name}


def instant(value: dt.datetime | None) -> str | None:
    """Return a stored (naive UTC) instant as facts hold it: ISO 8601 in UTC, 'Z' marked."""
    if value is None:
        return None
    if value.tzinfo is not None:
        value = value.astimezone(dt.timezone.utc)
    return value.replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def minutes(delta: dt.timedelta) -> int:
    """Return a duration as facts hold it: whole minutes."""
    return int(delta.total_seconds() // 60)


def dumps(facts: dict | None) -> str:
    """Return facts as stored (compact JSON, keys sorted)."""
    return json.dumps(facts or {}, sort_keys=True, separators=(",", ":"))


def loads(text: str | None) -> dict:
    """Return stored facts (an empty dict for none)."""
    return json.loads(text) if text else {}


class _Words:
    """The pieces sentences are made of, in one reader's language and zone."""

    def __init__(self, translate: Translate, when: When):
        """Remember how to translate and how to show an instant."""
        self.t, self._when = translate, when

    def at(self, text: str | None) -> str:
        """Return a facts instant in the reader's zone."""
        return "-" if not text else self._when(dt.datetime.fromisoformat(text))

    def where(self, p: dict | None) -> str:
        """Return a place as 'district 351301 (Bantaran)' in the reader's language."""
        if not p:
            return "-"
        return f"{self.t(LEVEL_WORDS.get(p['level'], p['level']))} {p['code']} ({p['name']})"

    def action(self, code: str) -> str:
        """Return an action in the reader's language."""
        return self.t(ACTION_WORDS.get(code, code))

    def span(self, mins: int) -> str:
        """Return a duration in minutes, hours or days."""
        if mins < 120:
            return self.t(N_("{n} min")).format(n=mins)
        if mins < 48 * 60:
            return self.t(N_("{n} h")).format(n=mins // 60)
        return self.t(N_("{n} days")).format(n=mins // (24 * 60))

    def last_seen(self, last: dict | None) -> str:
        """Return where a package was last seen (facts' ``last_seen``), or that it never was."""
        if not last:
            return self.t(N_("never (no scan of it)"))
        return self.t(N_("at {place} ({action}, {at})")).format(
            place=self.where(last["place"]), action=self.action(last["action"]),
            at=self.at(last["at"]))

    def votes(self, dapils: list[str]) -> str:
        """Return the dapils a TPS votes in, or 'no dapil'."""
        return ", ".join(dapils) if dapils else self.t(N_("no dapil"))


def _cloned(w: _Words, f: dict) -> str:
    why = f.get("why")
    if why == "two_places":
        reason = w.t(N_("received at two {level} locations")).format(
            level=w.t(LEVEL_WORDS.get(f["level"], f["level"])))
    elif why == "after_delivery":
        reason = w.t(N_("received elsewhere after delivery"))
    else:
        reason = w.t(N_("scanned {span} apart at places on different branches")).format(
            span=w.span(f["minutes"]))
    return w.t(N_("label of {package} {reason}: {first} at {first_at} and {second} at "
                  "{second_at}")).format(package=f["package"], reason=reason,
                                         first=w.where(f["first"]), first_at=w.at(f["first_at"]),
                                         second=w.where(f["second"]),
                                         second_at=w.at(f["second_at"]))


def _duplicate(w: _Words, f: dict) -> str:
    if f.get("back"):
        text = N_("{package} scanned {times} times for {action} at {place} on its way back; "
                  "counted once")
    else:
        text = N_("{package} scanned {times} times for {action} at {place}; counted once")
    return w.t(text).format(package=f["package"], times=f["times"], action=w.action(f["action"]),
                            place=w.where(f["place"]))


def _damaged(w: _Words, f: dict) -> str:
    if f.get("units"):
        text = N_("{package} reported {condition} ({units} of {of} units) at {action} in {place} "
                  "at {at}")
    else:
        text = N_("{package} reported {condition} at {action} in {place} at {at}")
    return w.t(text).format(
        package=f["package"], condition=w.t(CONDITION_WORDS.get(f["condition"], f["condition"])),
        units=f.get("units"), of=f.get("of"),
        action=w.action(f["action"]), place=w.where(f["place"]), at=w.at(f["at"]))


def _wrong_dapil(w: _Words, f: dict) -> str:
    if f.get("container"):
        return w.t(N_("{item_type} ballots of dapil {dapil} packed into {container}, bound for "
                      "{place} which votes in {votes}")).format(
            item_type=f["item_type"], dapil=f["dapil"], container=f["container"],
            place=w.where(f["place"]), votes=w.votes(f["votes"]))
    return w.t(N_("{item_type} ballots of dapil {dapil} at {place}, which votes in {votes}")).format(
        item_type=f["item_type"], dapil=f["dapil"], place=w.where(f["place"]),
        votes=w.votes(f["votes"]))


def _misrouted(w: _Words, f: dict) -> str:
    if f.get("container"):
        text = N_("{package} bound for {destination} was scanned ({action}, in container "
                  "{container}) at {place}, not on its route")
    elif f.get("back"):
        text = N_("{package} bound for {destination} was scanned ({action}) on its way back at "
                  "{place}, not on its route")
    else:
        text = N_("{package} bound for {destination} was scanned ({action}) at {place}, "
                  "not on its route")
    return w.t(text).format(package=f["package"], destination=w.where(f["destination"]),
                            action=w.action(f["action"]), container=f.get("container"),
                            place=w.where(f["place"]))


def _custody_gap(w: _Words, f: dict) -> str:
    return w.t(N_("{package} received at {place} at {at} without a receipt at {expected} "
                  "before it")).format(package=f["package"], place=w.where(f["place"]),
                                       at=w.at(f["at"]), expected=w.where(f["expected"]))


def _late(w: _Words, f: dict) -> str:
    return w.t(N_("{package} received at {place} at {at}, {span} after the {level} deadline "
                  "{deadline}")).format(
        package=f["package"], place=w.where(f["place"]), at=w.at(f["at"]),
        span=w.span(f["late_minutes"]), level=w.t(LEVEL_WORDS.get(f["level"], f["level"])),
        deadline=w.at(f["deadline"]))


def _quantity(w: _Words, f: dict) -> str:
    if f.get("why") == "counted":
        return w.t(N_("{place} counted {counted} in {item_type} package {package} at {action} at "
                      "{at}, label says {labelled} ({difference:+d})")).format(
            place=w.where(f["place"]), counted=f["counted"], item_type=f["item_type"],
            package=f["package"], action=w.action(f["action"]), at=w.at(f["at"]),
            labelled=f["labelled"], difference=f["counted"] - f["labelled"])
    return w.t(N_("{place} received {item_type} package {package} labelled {labelled}, plan "
                  "says {planned}")).format(place=w.where(f["place"]), item_type=f["item_type"],
                                            package=f["package"], labelled=f["labelled"],
                                            planned=f["planned"])


def _seal(w: _Words, f: dict) -> str:
    return w.t(N_("{package} received at {place} with seal '{seal}', but was sealed '{sealed}' "
                  "at {action} in {sealed_place}")).format(
        package=f["package"], place=w.where(f["place"]), seal=f["seal"], sealed=f["sealed"],
        action=w.action(f["sealed_action"]), sealed_place=w.where(f["sealed_place"]))


def _missing(w: _Words, f: dict) -> str:
    return w.t(N_("{package} was due at {place} by {deadline} and has not been received there; "
                  "last seen {last}")).format(
        package=f["package"], place=w.where(f["place"]), deadline=w.at(f["deadline"]),
        last=w.last_seen(f.get("last_seen")))


def _missing_return(w: _Words, f: dict) -> str:
    return w.t(N_("{package} was due back at {place} by {deadline} after delivery to "
                  "{destination} and has not been received there; last seen {last}")).format(
        package=f["package"], place=w.where(f["place"]), deadline=w.at(f["deadline"]),
        destination=w.where(f["destination"]), last=w.last_seen(f.get("last_seen")))


def _forged(w: _Words, f: dict) -> str:
    why, package = f.get("why"), f.get("package") or "-"
    if why == "unknown_key":
        return w.t(N_("label of {package} is signed with key {key}, which is not trusted "
                      "here")).format(package=package, key=f["key"])
    if why == "bad_signature":
        return w.t(N_("label of {package} does not match its signature under key {key}: the "
                      "code was altered or forged")).format(package=package, key=f["key"])
    if why == "typed_code":
        return w.t(N_("hand-typed code {code} does not match any registered label of {package} "
                      "(current version {current})")).format(code=f["code"], package=package,
                                                             current=f["current"])
    if why == "unreadable":
        return w.t(N_("unreadable label: {error}")).format(error=f["error"])
    return w.t(N_("not a Jejak label: '{text}'")).format(text=f.get("text", ""))


def _unknown(w: _Words, f: dict) -> str:
    if f.get("typed"):
        return w.t(N_("hand-typed package id {package} is not in the plan")).format(
            package=f["package"])
    return w.t(N_("label for {package} is genuine (key {key}) but the package is not in the "
                  "plan")).format(package=f["package"], key=f["key"])


def _superseded(w: _Words, f: dict) -> str:
    if f.get("code"):
        return w.t(N_("hand-typed code {code} of {package} is label version {version}, "
                      "superseded by reprint version {current}")).format(
            code=f["code"], package=f["package"], version=f["version"], current=f["current"])
    return w.t(N_("label of {package} is version {version}, superseded by reprint version "
                  "{current}")).format(package=f["package"], version=f["version"],
                                       current=f["current"])


def _short_shipment(w: _Words, f: dict) -> str:
    return w.t(N_("{place} received shipment {shipment} (from {origin} to {destination}) at {at} "
                  "without koli {package}: {received} koli received of {sent} sent")).format(
        place=w.where(f["place"]), shipment=f["shipment"], origin=w.where(f["from"]),
        destination=w.where(f["to"]), at=w.at(f["at"]), package=f["package"],
        received=f["received"], sent=f["sent"])


def _not_in_shipment(w: _Words, f: dict) -> str:
    return w.t(N_("{place} received koli {package} with shipment {shipment} (from {origin} to "
                  "{destination}) at {at}; it is not on the surat jalan")).format(
        place=w.where(f["place"]), package=f["package"], shipment=f["shipment"],
        origin=w.where(f["from"]), destination=w.where(f["to"]), at=w.at(f["at"]))


_SENTENCES = {"cloned_label": _cloned, "duplicate_scan": _duplicate, "damaged": _damaged,
              "wrong_dapil": _wrong_dapil, "misrouted": _misrouted,
              "custody_gap": _custody_gap, "late": _late, "quantity_mismatch": _quantity,
              "seal_mismatch": _seal, "missing": _missing, "missing_return": _missing_return,
              "forged_label": _forged,
              "unknown_package": _unknown, "superseded_label": _superseded,
              "short_shipment": _short_shipment, "not_in_shipment": _not_in_shipment}


def describe(kind: str, facts: dict | None, translate: Translate = _same,
             when: When = utc_text) -> str:
    """Return an anomaly's facts as one sentence for a reader ('' when there are no facts)."""
    if not facts:
        return ""
    w = _Words(translate, when)
    text = _SENTENCES[kind](w, facts)
    if facts.get("container_label"):
        text += " " + w.t(N_("(container label)"))
    ahead = facts.get("clock_ahead")
    if ahead:
        text += " " + w.t(N_("[device clock {span} ahead of the server on scan {scan}]")).format(
            span=w.span(ahead["minutes"]), scan=ahead["scan"])
    return text


def text_of(item, translate: Translate = _same, when: When = utc_text) -> str:
    """Return an anomaly's detail for a reader: from its facts, else its stored English detail."""
    get = item.get if isinstance(item, dict) else (lambda k: getattr(item, k, None))
    facts = get("facts")
    return describe(get("kind"), facts, translate, when) or (get("detail") or "")
