"""The surat jalan's QR text: made, parsed, refused."""

from __future__ import annotations

import uuid

import pytest

from labels.shipment import (
    ShipmentRefError,
    is_shipment_ref,
    make_shipment_number,
    make_shipment_ref,
    parse_shipment_ref,
)


def test_a_reference_round_trips_and_is_wedge_safe():
    u = str(uuid.uuid4())
    text = make_shipment_ref(make_shipment_number(42), u)
    assert text == f"JSJ1.SJ-000042.{u.upper()}"
    assert set(text) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-")
    assert is_shipment_ref(text.lower()) and not is_shipment_ref("J1.ABC")
    ref = parse_shipment_ref(" " + text.lower() + "\n")
    assert (ref.number, ref.uuid) == ("SJ-000042", u)


@pytest.mark.parametrize("text", ["", "J1.X.Y", "JSJ1.SJ-42.X", "JSJ1.SJ-000042",
                                  "JSJ1.SJ-000042.NOT-A-UUID", "JSJ1.SJ-000042.A.B"])
def test_a_text_that_is_not_a_reference_is_refused_quoting_it(text):
    with pytest.raises(ShipmentRefError) as info:
        parse_shipment_ref(text)
    assert repr(text[:80]) in str(info.value) or "uuid" in str(info.value)
