"""The comparison at a receipt's close, on plain lists (no database)."""

from __future__ import annotations

import pytest

from server.shipments.records import Difference, ShipmentError, compare, read_closed


def test_compare_names_short_koli_in_list_order_then_extra_ones():
    assert compare(["A", "B", "C"], ["C", "D", "A"]) == [
        Difference("short_shipment", "B"), Difference("not_in_shipment", "D")]


def test_compare_of_equal_lists_in_any_order_is_empty():
    assert compare(["A", "B"], ["B", "A"]) == []


def test_a_koli_scanned_twice_is_on_the_list_once():
    closed = read_closed({"id": "7f0c4f7e-3c1a-4e55-9a8e-7a9b3f1d2c11", "koli": ["pkg-1", "PKG-1 ",
                                                                               "PKG-2"],
                          "closed_at": "2024-02-10T08:00:00+07:00"})
    assert closed.koli == ["PKG-1", "PKG-2"]
    assert closed.closed_at.hour == 1


@pytest.mark.parametrize("body,words", [
    ({"koli": []}, "field 'id' must be a UUID"),
    ({"id": "nope", "koli": []}, "'nope' is not a UUID"),
    ({"id": "7f0c4f7e-3c1a-4e55-9a8e-7a9b3f1d2c11"}, "'koli' must be an array"),
    ({"id": "7f0c4f7e-3c1a-4e55-9a8e-7a9b3f1d2c11", "koli": [" "]}, "koli[0]"),
    ({"id": "7f0c4f7e-3c1a-4e55-9a8e-7a9b3f1d2c11", "koli": [], "closed_at": "soon"},
     "closed_at 'soon'"),
])
def test_a_bad_list_is_refused_saying_what_is_wrong(body, words):
    with pytest.raises(ShipmentError) as info:
        read_closed(body)
    assert words in str(info.value)
