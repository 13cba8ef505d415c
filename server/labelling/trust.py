"""The label keys the server trusts: loaded for ingest, added by `trust-key`."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from labels.keys import load_public_key_pem
from server.models import LabelKey

_PUBLIC_KEYS: dict[str, object] = {}


def trusted_keys(session: Session) -> dict[str, object]:
    """Return {key id: public key} of the trusted, unrevoked label keys (PEMs parsed once)."""
    keys = {}
    for key_id, pem in session.execute(select(LabelKey.key_id, LabelKey.public_key_pem)
                                       .where(LabelKey.revoked_at.is_(None))):
        key = _PUBLIC_KEYS.get(pem)
        if key is None:
            key = _PUBLIC_KEYS[pem] = load_public_key_pem(pem, f"label key {key_id}")
        keys[key_id] = key
    return keys
