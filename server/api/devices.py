"""A device registers the public half of the Ed25519 key it made at enrolment."""

from __future__ import annotations

from flask import jsonify

from labels.confirmation import key_id, public_key_raw
from server.access import SCAN_ROLES, DeviceKeyError, register_device_key, require
from server.api.parsing import authenticate, json_object, query_args, to_json
from server.db import get_session
from server.errors import ApiError


def post_key():
    """Register the calling device's public key (once: the same key again is 200, another 409)."""
    principal = authenticate()
    require(principal, SCAN_ROLES, "register device keys")
    query_args(())
    body = json_object()
    session = get_session()
    try:
        device, created = register_device_key(session, principal, body.get("public_key"))
        session.commit()
    except DeviceKeyError as exc:
        session.rollback()
        raise ApiError(exc.status, str(exc),
                       code={403: "forbidden", 409: "conflict"}.get(exc.status, "invalid_body")) \
            from None
    out = {"device": device.id, "name": device.name, "location": device.location.code,
           "public_key": device.public_key, "key_id": key_id(public_key_raw(device.public_key)),
           "registered_at": device.key_registered_at,
           "status": "registered" if created else "already_registered"}
    return jsonify(to_json(out)), 201 if created else 200
