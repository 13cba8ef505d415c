"""The anomaly kinds are listed once (server.models); every other list of them is held equal."""

from __future__ import annotations

import re
from pathlib import Path

from server.models import ANOMALY_KINDS, DERIVED_KINDS, LABEL_KINDS, SHIPMENT_KINDS
from server.reports.bast import KIND_WORDS

DOC = Path(__file__).resolve().parents[2] / "docs" / "anomalies.md"


def test_docs_have_one_section_per_anomaly_kind():
    sections = re.findall(r"^## ([a-z_]+)\s*$", DOC.read_text(encoding="utf-8"), re.M)
    assert sorted(sections) == sorted(ANOMALY_KINDS)


def test_every_kind_is_judged_from_labels_from_timelines_or_at_a_shipment_receipt():
    assert sorted(DERIVED_KINDS + LABEL_KINDS + SHIPMENT_KINDS) == sorted(ANOMALY_KINDS)
    assert not set(DERIVED_KINDS) & set(LABEL_KINDS)
    assert not set(DERIVED_KINDS) & set(SHIPMENT_KINDS)


def test_the_bast_has_words_for_every_kind():
    assert sorted(KIND_WORDS) == sorted(ANOMALY_KINDS)
