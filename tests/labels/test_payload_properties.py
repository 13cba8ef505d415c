"""Property-based tests of the label payload: hostile text never crashes the parser, and a
signed label survives the round trip while any one-character change of it is refused."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from labels.keys import generate
from labels.payload import Label, PayloadError, SignedLabel, parse, parse_manual_entry, sign, verify

KEY = generate()
OTHER_KEY = generate()
TRUSTED = {sign(Label("P", "T", "D", 1), KEY).key_id: KEY.public_key()}
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Characters a scanner can plausibly deliver: the label alphabet, lower case, separators,
# whitespace, control characters and some non-ASCII.
SCANNED = st.characters(codec="utf-8") | st.sampled_from(ALNUM + ALNUM.lower() + ".-\t\r\n \x00")

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _code(longest: int) -> st.SearchStrategy[str]:
    """Return codes of 1..longest characters [0-9A-Z] with inner '-', as the label fields allow."""
    return st.from_regex(r"[0-9A-Z](?:[0-9A-Z-]{0,%d}[0-9A-Z])?" % (longest - 2), fullmatch=True)


labels = st.builds(
    Label,
    package_id=_code(40),
    item_type=st.from_regex(r"[A-Z][0-9A-Z-]{0,15}", fullmatch=True),
    destination=_code(32),
    quantity=st.integers(min_value=1, max_value=9_999_999),
    dapil=st.just("") | _code(32),
    version=st.integers(min_value=1, max_value=9999),
)


@FAST
@given(st.text(SCANNED, max_size=500))
def test_parse_of_any_text_returns_a_label_or_raises_payload_error(text):
    try:
        label = parse(text)
    except PayloadError:
        return
    assert isinstance(label, SignedLabel)
    assert label.text == text.strip().upper()


@FAST
@given(st.binary(max_size=500))
def test_parse_of_any_bytes_returns_a_label_or_raises_payload_error(data):
    try:
        parse(data)
    except PayloadError:
        pass


@FAST
@given(st.from_type(object) | st.integers() | st.none() | st.lists(st.text()))
def test_parse_of_a_non_string_raises_payload_error(value):
    assume(not isinstance(value, (str, bytes)))
    with pytest.raises(PayloadError):
        parse(value)


@FAST
@given(st.text(SCANNED, max_size=300))
def test_verify_of_any_text_raises_only_payload_errors(text):
    try:
        verify(text, TRUSTED)
    except PayloadError:
        pass


@FAST
@given(st.text(SCANNED, max_size=80))
def test_manual_entry_of_any_text_returns_a_pair_or_raises_payload_error(text):
    try:
        package, code = parse_manual_entry(text)
    except PayloadError:
        return
    assert len(code) == 9 and code[4] == "-"


@settings(max_examples=200, deadline=None)
@given(labels)
def test_sign_text_parse_verify_round_trips(label):
    signed = sign(label, KEY)
    assert len(signed.text) <= 400
    for scanned in (signed.text, signed.text.lower(), f"  {signed.text}\r\n"):
        back = verify(parse(scanned), TRUSTED)
        assert back.unsigned() == label
        assert back.text == signed.text
        assert back.verification_code == signed.verification_code


@settings(max_examples=200, deadline=None)
@given(labels, st.data())
def test_any_single_character_change_fails_parse_or_verification(label, data):
    text = sign(label, KEY).text
    i = data.draw(st.integers(min_value=0, max_value=len(text) - 1), label="position")
    new = data.draw(SCANNED, label="replacement")
    # Case is not information (a wedge scanner in caps-lock types lower case).
    assume(new.upper() != text[i].upper())
    changed = text[:i] + new + text[i + 1:]
    with pytest.raises(PayloadError):
        verify(changed, TRUSTED)


@settings(max_examples=5, deadline=None)
@given(labels)
def test_every_other_character_at_every_signature_position_is_refused(label):
    # Exhaustive where malleability would hide: base32's last character carries pad bits.
    text = sign(label, KEY).text
    start = text.rindex(".") + 1
    accepted = []
    for i in range(start, len(text)):
        for new in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
            if new == text[i]:
                continue
            try:
                verify(text[:i] + new + text[i + 1:], TRUSTED)
            except PayloadError:
                continue
            accepted.append((i - start, new))
    assert accepted == []


@settings(max_examples=50, deadline=None)
@given(labels)
def test_a_label_signed_by_an_untrusted_key_is_refused(label):
    with pytest.raises(PayloadError):
        verify(sign(label, OTHER_KEY).text, TRUSTED)
