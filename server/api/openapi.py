"""The OpenAPI 3.0 document of the JSON API, served at /api/v1/openapi.json.

Written by hand from the same facts the views use (field lengths, enums, the
route table); ``tests/server/api/test_api_openapi.py`` holds the two together and
runs schemathesis against it.
"""

from __future__ import annotations

from server.api.parsing import MAX_CURSOR_DIGITS, MAX_PAGE, MAX_ROW_ID
from server.api.reads import EXPECTED_PAGE, MAX_EXPECTED_PAGE, MAX_PACKAGE_ID
from server.api.scans import BOOL_FIELDS, COUNT_FIELDS, REQUIRED, TEXT_FIELDS
from server.ingest.scan import MAX_COUNT
from server.models import ACTIONS, ANOMALY_KINDS, ANOMALY_STATUSES, DISPOSITIONS, LEVELS
from server.reconcile.anomalies import MAX_NOTE, RESOLVE_STATUSES
from server.shipments.records import MAX_CODE as MAX_KOLI_CODE
from server.shipments.records import MAX_KOLI, MAX_OPERATOR

API_VERSION = "1.0.0"


ERROR_CODES = ["bad_request", "invalid_json", "invalid_body", "invalid_parameter",
               "unknown_parameter", "invalid_cursor", "unauthorized", "forbidden", "not_found",
               "method_not_allowed", "conflict", "payload_too_large", "batch_too_large",
               "unsupported_media_type", "too_many_anomalies", "invalid_photo", "photo_too_large", "rate_limited", "database_unavailable", "internal_error"]


_ERROR_TEXT = {
    "400": "The request cannot be understood (body, parameter or cursor); the message says why.",
    "401": "No bearer token, or it is unknown, expired or revoked.",
    "403": "The token's role may not do this, or the region is outside the token's region.",
    "404": "No such resource in the caller's region.",
    "409": "The change conflicts with what is recorded: an anomaly that cannot take this "
           "status change (e.g. it is already resolved), a shipment or receipt id recorded "
           "before with other content, or a shipment received already.",
    "413": "The body is larger than MAX_CONTENT_LENGTH, or the batch has more than MAX_BATCH scans.",
    "415": "The body is not sent as application/json.",
    "422": "The batch would open more label anomalies than MAX_NEW_ANOMALIES_PER_BATCH; nothing was "
           "recorded: send it in smaller batches.",
    "429": "More requests this minute than RATE_LIMIT_PER_MINUTE; wait Retry-After seconds.",
    "503": "The database is unavailable; nothing was recorded. Retry after Retry-After seconds.",
}


_RETRY_AFTER = {"Retry-After": {"description": "Seconds to wait before retrying.",
                                "schema": {"type": "string", "pattern": "^[0-9]+$"}}}


def _error(status: str) -> dict:
    """Return the response object of an error status, in the common error shape."""
    response = {"description": _ERROR_TEXT[status],
                "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
    if status in ("429", "503"):
        response["headers"] = _RETRY_AFTER
    return response


def _ok(description: str, schema_ref: str) -> dict:
    """Return a 200 response object with a JSON body of a component schema."""
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _responses(ok: dict, *errors: str) -> dict:
    """Return an operation's responses: the 200 and the listed error statuses."""
    out = {"200": ok}
    for status in errors:
        out[status] = _error(status)
    return out


def _json_body(schema_ref: str) -> dict:
    """Return a required JSON request body of a component schema."""
    return {"required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema_ref}"}}}}


def _query(name: str, schema: dict, description: str) -> dict:
    """Return an optional query parameter."""
    return {"name": name, "in": "query", "required": False, "schema": schema,
            "description": description}


def _path(name: str, schema: dict, description: str) -> dict:
    """Return a path parameter."""
    return {"name": name, "in": "path", "required": True, "schema": schema,
            "description": description}


_REGION = _query("region", {"type": "string", "minLength": 1, "maxLength": 32},
                 "Code of the region (default: the token's region); it must lie in the token's region.")


_AS_OF = _query("as_of", {"type": "string", "format": "date-time"},
                "ISO-8601 instant at which deadline-based kinds are judged (default: now); "
                "without an offset it is UTC.")


# Who may call what (documentation; the views enforce it).
_READERS = "Any role, within the token's region."


def _paths() -> dict:
    """Return the paths object: every route of server.api.ROUTES and the document itself."""
    auth_errors = ("400", "401", "429")
    return {
        "/health": {"get": {
            "operationId": "health", "summary": "Check that the server can reach its database.",
            "description": "No token needed. 503 when the database is unreachable.",
            "security": [],
            "responses": _responses(_ok("Server and database up.", "Health"), "400", "503"),
        }},
        "/me": {"get": {
            "operationId": "me", "summary": "Show the token's role, region and device location.",
            "description": _READERS,
            "responses": _responses(_ok("Who the token is.", "Me"), *auth_errors),
        }},
        "/scans": {"post": {
            "operationId": "postScans", "summary": "Record a batch of scans (idempotent per scan id).",
            "description": "Roles operator and admin (others: 403). Results come in request "
                           "order. A retried id is `already_recorded` and changes nothing; a scan "
                           "that cannot be understood is `rejected` with the reason (the rest of "
                           "the batch is still recorded); a forged or unknown code is `recorded` "
                           "with its anomaly. The batch is one transaction: on 503 nothing was kept.",
            "requestBody": _json_body("ScanBatch"),
            "responses": _responses(_ok("One result per scan, in request order.", "ScanResults"),
                                    "400", "401", "403", "413", "415", "422", "429", "503"),
        }},
        "/packages/{package_id}": {"get": {
            "operationId": "getPackage", "summary": "Show a package and its chain of custody.",
            "description": _READERS + " A package outside the region is 404, so existence "
                                      "does not leak.",
            "parameters": [_path("package_id", {"type": "string", "minLength": 1},
                                 "The package id printed on its label.")],
            "responses": _responses(_ok("The package and its custody, oldest first.", "Custody"),
                                    *auth_errors, "404"),
        }},
        "/anomalies": {"get": {
            "operationId": "listAnomalies", "summary": "List a region's anomalies, a page at a time.",
            "description": _READERS + " `next` is present only when more pages follow; "
                                      "request it as given.",
            "parameters": [
                _REGION,
                _query("kind", {"type": "string", "enum": list(ANOMALY_KINDS)}, "Only this kind."),
                _query("status", {"type": "string", "enum": list(ANOMALY_STATUSES)},
                       "Only this status."),
                _AS_OF,
                _query("after", {"type": "string", "pattern": f"^[0-9]{{1,{MAX_CURSOR_DIGITS}}}$"},
                       "Page cursor: copied from the previous page's `next`."),
                _query("limit", {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                       "Page size (default PAGE_SIZE)."),
            ],
            "responses": _responses(_ok("One page of anomalies.", "AnomalyPage"),
                                    *auth_errors, "403", "404"),
        }},
        "/anomalies/{anomaly_id}/resolve": {"post": {
            "operationId": "resolveAnomaly",
            "summary": "Acknowledge or resolve an anomaly with a note.",
            "description": "Roles supervisor and admin (others: 403), within their region. Who "
                           "and when are recorded; nothing is deleted.",
            "parameters": [_path("anomaly_id", {"type": "integer", "minimum": 0},
                                 "The anomaly's id.")],
            "requestBody": _json_body("Resolution"),
            "responses": _responses(_ok("The anomaly after the change.", "ResolvedAnomaly"),
                                    *auth_errors, "403", "404", "409", "413", "415", "503"),
        }},
        "/progress": {"get": {
            "operationId": "progress",
            "summary": "Show per child region: expected, dispatched, received, open anomalies.",
            "description": _READERS,
            "parameters": [_REGION, _AS_OF],
            "responses": _responses(_ok("Progress of the region's children.", "Progress"),
                                    *auth_errors, "403", "404"),
        }},
        "/keys": {"get": {
            "operationId": "listKeys", "summary": "List the trusted public label keys.",
            "description": "Any role. Revoked keys are left out.",
            "responses": _responses(_ok("The trusted keys.", "Keys"), *auth_errors),
        }},
        "/ledger/head": {"get": {
            "operationId": "ledgerHead", "summary": "Show the ledger's newest signed head.",
            "description": "Any role. Signed by the server's Ed25519 ledger key after every "
                           "append: `signature` covers `jejak-ledger-v1:head:<seq>:<chain>:"
                           "<signed_at>`. Keep it (a witness does): `jejak-server verify-log "
                           "--head FILE` later says TRUNCATED or FORKED if the log no longer "
                           "holds that chain at that seq (docs/ledger.md).",
            "responses": _responses(_ok("The newest signed head.", "LedgerHead"), *auth_errors),
        }},
        "/ledger/entries": {"get": {
            "operationId": "ledgerEntries",
            "summary": "List ledger entries after a seq: seq, kind and digest only.",
            "description": "Any role. What a witness recomputes the chain from, between the "
                           "head it kept and the new one; digests reveal no record's content. "
                           "`next` is the last seq given when the page is full.",
            "parameters": [_query("after", {"type": "integer", "minimum": 0,
                                            "maximum": 2**62}, "Entries after this seq (default 0)."),
                           _query("limit", {"type": "integer", "minimum": 1, "maximum": 10000},
                                  "Entries per page (default and most 10,000).")],
            "responses": _responses(_ok("Entries in seq order.", "LedgerEntries"), *auth_errors),
        }},
        "/ledger/key": {"get": {
            "operationId": "ledgerKey", "summary": "Show the ledger's public key.",
            "description": "Any role. The Ed25519 public key heads and checkpoints are signed "
                           "with (base64 of the 32 raw bytes) and its id; pin it out of band "
                           "(`jejak-server ledger-key`).",
            "responses": _responses(_ok("The ledger public key.", "LedgerKey"), *auth_errors),
        }},
        "/locations/{code}/expected": {"get": {
            "operationId": "expectedAt",
            "summary": "Show a location, its ancestors and the packages it should receive.",
            "description": _READERS + " For a scanner's offline cache, in package id order, "
                                      "a page at a time: `next` is present only when more "
                                      "pages follow; request it as given.",
            "parameters": [_path("code", {"type": "string", "minLength": 1},
                                 "The location's code."),
                           _query("after", {"type": "string", "minLength": 1,
                                            "maxLength": MAX_PACKAGE_ID},
                                  "Page cursor: copied from the previous page's `next`."),
                           _query("limit", {"type": "integer", "minimum": 1,
                                            "maximum": MAX_EXPECTED_PAGE},
                                  f"Packages per page (default {EXPECTED_PAGE}).")],
            "responses": _responses(_ok("The location and its expected packages.", "Expected"),
                                    *auth_errors, "403", "404"),
        }},
        "/expected": {"get": {
            "operationId": "ownExpected",
            "summary": "Show the caller's own location and the packages it should receive.",
            "description": "Any token. The location is the device's own (a `create-device` "
                           "token), else the token's region; the answer is that of "
                           "`/locations/{code}/expected` for it (the phone scanner's cache), "
                           "a page at a time: `next` is present only when more pages follow.",
            "parameters": [_query("after", {"type": "string", "minLength": 1,
                                            "maxLength": MAX_PACKAGE_ID},
                                  "Page cursor: copied from the previous page's `next`."),
                           _query("limit", {"type": "integer", "minimum": 1,
                                            "maximum": MAX_EXPECTED_PAGE},
                                  f"Packages per page (default {EXPECTED_PAGE}).")],
            "responses": _responses(_ok("The location and its expected packages.", "Expected"),
                                    *auth_errors),
        }},
        **_shipment_paths(),
        **_photo_paths(),
        **_party_paths(),
        "/openapi.json": {"get": {
            "operationId": "openapi", "summary": "This document.", "security": [],
            "responses": {"200": {"description": "The OpenAPI document.",
                                  "content": {"application/json": {"schema": {"type": "object"}}}}},
        }},
    }


_NUMBER = _path("number", {"type": "string", "minLength": 1, "maxLength": 32},
                "The shipment's number, e.g. SJ-000042 (on the surat jalan).")


def _shipment_paths() -> dict:
    """Return the paths of the surat jalan: shipments, their PDF and their receipt."""
    auth_errors = ("400", "401", "429")
    writers = ("Roles operator and admin (others: 403), at a place they may scan at. "
               "Idempotent by `id`, the UUID the scanner chose when it opened the list "
               "(offline too): 201 when recorded, 200 `already_recorded` when the same id "
               "comes again with the same content, 409 with other content.")
    return {
        "/shipments": {"post": {
            "operationId": "postShipment",
            "summary": "Record a closed shipment (its koli) and give it a number.",
            "description": writers + " The answer carries the number, the reference its surat "
                                     "jalan's QR encodes and the PDF's path.",
            "requestBody": _json_body("ShipmentUpload"),
            "responses": {**_responses(_ok("Recorded before: the same shipment.", "Shipment"),
                                       "400", "401", "403", "404", "409", "413", "415", "429",
                                       "503"),
                          "201": _ok("Recorded now.", "Shipment")},
        }},
        "/shipments/{number}": {"get": {
            "operationId": "getShipment",
            "summary": "Show a shipment, its koli and its receipt.",
            "description": _READERS + " A shipment that neither leaves nor reaches the region "
                                      "is 404.",
            "parameters": [_NUMBER],
            "responses": _responses(_ok("The shipment.", "Shipment"), *auth_errors, "404"),
        }},
        "/shipments/{number}/surat-jalan.pdf": {"get": {
            "operationId": "suratJalan",
            "summary": "Print a shipment's surat jalan: its QR and its list of koli.",
            "description": _READERS + " Times in DISPLAY_TIMEZONE.",
            "parameters": [_NUMBER, _query("lang", {"type": "string", "enum": ["id", "en"]},
                                           "Language of the paper (default id).")],
            "responses": {**_responses({"description": "The PDF.", "content": {
                "application/pdf": {"schema": {"type": "string", "format": "binary"}}}},
                *auth_errors, "404")},
        }},
        "/shipments/{number}/receipt": {"post": {
            "operationId": "postReceipt",
            "summary": "Record a shipment's closed receipt; short and extra koli are raised at once.",
            "description": writers + " `reference` is the text of the surat jalan's QR. Every "
                                     "koli of the shipment not received raises `short_shipment`, "
                                     "every koli received not in it `not_in_shipment`, at the "
                                     "receipt's location and `closed_at`. One receipt per "
                                     "shipment: a second one is 409.",
            "parameters": [_NUMBER],
            "requestBody": _json_body("ReceiptUpload"),
            "responses": {**_responses(_ok("Recorded before: the same receipt.", "Receipt"),
                                       "400", "401", "403", "404", "409", "413", "415", "429",
                                       "503"),
                          "201": _ok("Recorded now.", "Receipt")},
        }},
    }


_SCAN_ID = _path("scan_id", {"type": "string", "format": "uuid"},
                  "The scan's uuid: the `id` it was uploaded with in POST /scans (an offline "
                  "scanner knows it before the scan reaches the server).")


def _photo_paths() -> dict:
    """Return the path of a scan's photos: attach one, list them."""
    image = {"type": "string", "format": "binary"}
    return {"/scans/{scan_id}/photos": {
        "post": {
            "operationId": "postScanPhoto",
            "summary": "Attach a photo (damage, a broken seal, a count that differs) to a scan.",
            "description": (
                "Roles operator and admin (others: 403), for a scan recorded at a place the "
                "token may scan at (else 403). The scan must be recorded first (404 until "
                "it is): scanners upload a scan, then its photos. The body is the image's "
                "bytes, `Content-Type: image/jpeg` or `image/png` (`application/octet-stream` "
                "is taken too); the format is read from the bytes, never from the header "
                "(a PNG sent as image/jpeg is stored as the PNG it is). Refused with nothing "
                "stored: not JPEG or PNG (415), more than PHOTO_MAX_BYTES (413 "
                "`photo_too_large`), more than PHOTO_MAX_PIXELS pixels or a decompression "
                "bomb (413, before any pixel is decoded), truncated or corrupt (400 "
                "`invalid_photo`), more than 20 photos on one scan (409). Idempotent by "
                "SHA-256: the same bytes for the same scan answer 200 `already_recorded`. "
                "The original is kept untouched under its SHA-256 and chained in the ledger "
                "(record kind `scan_photo`); `links` are the dashboard's display copy "
                "(upright, at most 1280 px, no metadata), thumbnail (320 px) and original."),
            "parameters": [_SCAN_ID],
            "requestBody": {"required": True, "content": {
                "image/jpeg": {"schema": image}, "image/png": {"schema": image}}},
            "responses": {**_responses(_ok("Sent before: the same photo.", "PhotoUpload"),
                                       "400", "401", "403", "404", "409", "413", "415", "429",
                                       "503"),
                          "201": _ok("Recorded now.", "PhotoUpload")},
        },
        "get": {
            "operationId": "listScanPhotos",
            "summary": "List the photos of a scan.",
            "description": _READERS + " A scan neither made in the region nor of a package "
                                      "bound for it is 404.",
            "parameters": [_SCAN_ID],
            "responses": _responses(_ok("The scan's photos, oldest first.", "ScanPhotos"),
                                    "400", "401", "404", "429"),
        },
    }}


def _photo_schema() -> dict:
    """Return the schema of one photo as the API shows it."""
    links = {"type": "object", "required": ["display", "thumb", "original"],
             "properties": {k: {"type": "string"} for k in ("display", "thumb", "original")}}
    return {"type": "object",
            "required": ["id", "scan_id", "sha256", "media_type", "size_bytes", "width",
                         "height", "uploaded_by", "created_at", "links"],
            "properties": {
                "id": {"type": "integer"},
                "scan_id": {"type": "string", "format": "uuid"},
                "sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                "media_type": {"type": "string", "enum": ["image/jpeg", "image/png"]},
                "size_bytes": {"type": "integer", "minimum": 1},
                "width": {"type": "integer", "minimum": 1},
                "height": {"type": "integer", "minimum": 1},
                "uploaded_by": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "links": links}}


def _party_paths() -> dict:
    """Return the paths of both parties: device keys, a shipment's digest, its confirmations."""
    return {
        "/devices/key": {"post": {
            "operationId": "postDeviceKey",
            "summary": "Register the calling device's Ed25519 public key (made at enrolment).",
            "description": "A device's token only (operators of `jejak-server create-device`; "
                           "any other token is 403). Once per device: the same key again is 200 "
                           "`already_registered`, another key is 409 (a replaced phone is "
                           "enrolled as a new device). The key is chained in the ledger with "
                           "the device's record.",
            "requestBody": _json_body("DeviceKeyUpload"),
            "responses": {**_responses(_ok("Registered before: the same key.", "DeviceKey"),
                                       "400", "401", "403", "409", "413", "415", "429", "503"),
                          "201": _ok("Registered now.", "DeviceKey")},
        }},
        "/shipments/{number}/digest": {"get": {
            "operationId": "getShipmentDigest",
            "summary": "Show the shipment's current digest: what a party's device signs.",
            "description": _READERS + " `digest` is the SHA-256 (hex) of `content` in the "
                                      "ledger's canonical JSON (sorted keys, no spaces, ASCII). "
                                      "It covers the receipt (its counted figures and "
                                      "discrepancies) once the shipment is received.",
            "parameters": [_NUMBER],
            "responses": _responses(_ok("The digest.", "ShipmentDigest"), "400", "401", "429",
                                    "404"),
        }},
        "/shipments/{number}/confirmations": {"post": {
            "operationId": "postConfirmation",
            "summary": "Record the giver's or the receiver's signed confirmation of a shipment.",
            "description": "A device's token with a registered key. `signature` is Ed25519 "
                           "(hex) over the ASCII bytes `jejak-confirm-v1:<number>:<party>:"
                           "<digest>`. The giver's device must be at the shipment's origin, the "
                           "receiver's at its receipt's place (after the receipt is closed); "
                           "the digest must be the current one (409 otherwise: fetch it again). "
                           "One per party: the same confirmation again is 200 "
                           "`already_recorded`, another one 409. Chained in the ledger.",
            "parameters": [_NUMBER],
            "requestBody": _json_body("ConfirmationUpload"),
            "responses": {**_responses(_ok("Recorded before: the same confirmation.",
                                           "Confirmation"),
                                       "400", "401", "403", "404", "409", "413", "415", "429",
                                       "503"),
                          "201": _ok("Recorded now.", "Confirmation")},
        }},
    }


def _party_schemas() -> dict:
    """Return the component schemas of both parties' confirmations."""
    hex_ = {"type": "string", "pattern": "^[0-9a-fA-F]*$"}
    confirmation = {
        "type": "object",
        "required": ["party", "name", "device", "location", "digest", "covers_receipt",
                     "signature", "confirmed_at", "recorded_at", "current"],
        "properties": {
            "party": {"type": "string", "enum": ["giver", "receiver"]},
            "name": {"type": "string"}, "device": {"type": "integer"},
            "device_name": {"type": "string"}, "location": {"type": "string"},
            "digest": {**hex_, "minLength": 64, "maxLength": 64},
            "covers_receipt": {"type": "boolean"},
            "signature": {**hex_, "minLength": 128, "maxLength": 128},
            "confirmed_at": _TS, "recorded_at": _TS, "shipment": {"type": "string"},
            "current": {"type": "boolean", "description":
                        "Its digest is the shipment's digest now (false: the shipment or its "
                        "receipt's counts changed after it)."},
            "status": {"type": "string", "enum": ["recorded", "already_recorded"]}}}
    return {
        "DeviceKeyUpload": {"type": "object", "required": ["public_key"], "properties": {
            "public_key": {"type": "string", "pattern": "^[A-Za-z0-9+/]{43}=$",
                           "description": "Base64 of the 32 raw bytes of an Ed25519 public key."}}},
        "DeviceKey": {"type": "object",
                      "required": ["device", "name", "location", "public_key", "key_id",
                                   "registered_at", "status"],
                      "properties": {
                          "device": {"type": "integer"}, "name": {"type": "string"},
                          "location": {"type": "string"}, "public_key": {"type": "string"},
                          "key_id": {"type": "string"}, "registered_at": _TS,
                          "status": {"type": "string",
                                     "enum": ["registered", "already_registered"]}}},
        "ShipmentDigest": {"type": "object",
                           "required": ["shipment", "digest", "covers_receipt", "content",
                                        "message"],
                           "properties": {"shipment": {"type": "string"},
                                          "digest": {**hex_, "minLength": 64, "maxLength": 64},
                                          "covers_receipt": {"type": "boolean"},
                                          "content": {"type": "object"},
                                          "message": {"type": "string"}}},
        "ConfirmationUpload": {"type": "object", "required": ["party", "digest", "signature"],
                               "properties": {
                                   "party": {"type": "string", "enum": ["giver", "receiver"]},
                                   "device": {"type": "integer", "description":
                                              "The caller's device id (optional check)."},
                                   "digest": {**hex_, "minLength": 64, "maxLength": 64},
                                   "signature": {**hex_, "minLength": 128, "maxLength": 128},
                                   "name": {"type": "string", "maxLength": MAX_OPERATOR,
                                            "pattern": r"^[^\u0000]*$",
                                            "description": "Who confirms (on the BAST)."},
                                   "confirmed_at": {**_TS, "description": "Device time."}}},
        "Confirmation": confirmation,
    }


def _closed_list(extra: dict, required: list[str]) -> dict:
    """Return the schema of a closed list a scanner uploads (a shipment or a receipt)."""
    return {"type": "object", "required": ["id", "koli", "closed_at", *required],
            "properties": {
                "id": {"type": "string", "format": "uuid",
                       "description": "Chosen by the scanner when it opened the list: the "
                                      "idempotency key."},
                "koli": {"type": "array", "maxItems": MAX_KOLI, "items": {
                    "type": "string", "minLength": 1, "maxLength": MAX_KOLI_CODE,
                    "pattern": r"^[^\u0000]*[^\u0000\s][^\u0000]*$",
                    "description": "A scanned label text (or a typed package id)."},
                    "description": "The koli, in scan order; one scanned twice counts once."},
                "closed_at": {**_TS, "description": "Device time the list was closed."},
                "operator": {"type": "string", "maxLength": MAX_OPERATOR,
                             "pattern": r"^[^\u0000]*$"},
                **extra}}


def _shipment_schemas() -> dict:
    """Return the component schemas of the surat jalan."""
    # Something besides spaces, and no NUL anywhere (the pattern is anchored at both ends).
    code = {"type": "string", "minLength": 1, "maxLength": 32,
            "pattern": r"^[^\u0000]*[^\u0000\s][^\u0000]*$"}
    koli = {"type": "array", "items": {"type": "string"}}
    receipt = {
        "type": "object",
        "required": ["id", "shipment", "location", "closed_at", "recorded_at", "koli",
                     "short_shipment", "not_in_shipment", "anomalies"],
        "properties": {
            "id": {"type": "string"}, "shipment": {"type": "string"},
            "status": {"type": "string", "enum": ["recorded", "already_recorded"]},
            "location": {"type": "string"}, "operator": {"type": "string"},
            "closed_at": _TS, "recorded_at": _TS, "koli": koli,
            "short_shipment": {**koli, "description": "Sent, not received."},
            "not_in_shipment": {**koli, "description": "Received, not sent."},
            "anomalies": {"type": "array", "items": {
                "type": "object", "required": ["id", "kind", "package_id"],
                "properties": {"id": {"type": "integer"},
                               "kind": {"type": "string",
                                        "enum": ["short_shipment", "not_in_shipment"]},
                               "package_id": {"type": "string"}}}}}}
    return {
        "ShipmentUpload": _closed_list({"from": {**code, "description": "Where it leaves."},
                                        "to": {**code, "description": "Where it goes."}},
                                       ["from", "to"]),
        "ReceiptUpload": _closed_list({
            "reference": {"type": "string", "pattern": r"^JSJ1\.SJ-[0-9]{6,12}\.[0-9A-Fa-f-]{36}$",
                          "description": "The surat jalan's QR text."},
            "location": {**code, "description": "Where it was received."}},
            ["reference", "location"]),
        "Photo": _photo_schema(),
        "PhotoUpload": {"type": "object", "required": ["photo", "status", "links"],
                        "properties": {
                            "photo": {"$ref": "#/components/schemas/ScanPhotoFields"},
                            "status": {"type": "string", "enum": ["recorded", "already_recorded"]},
                            "links": _photo_schema()["properties"]["links"]}},
        "ScanPhotoFields": {**_photo_schema(),
                            "required": [r for r in _photo_schema()["required"] if r != "links"]},
        "ScanPhotos": {"type": "object", "required": ["scan_id", "photos"],
                       "properties": {"scan_id": {"type": "string", "format": "uuid"},
                                      "photos": {"type": "array",
                                                 "items": {"$ref": "#/components/schemas/Photo"}}}},
        "Shipment": {
            "type": "object",
            "required": ["id", "number", "reference", "from", "to", "closed_at", "recorded_at",
                         "koli", "receipt", "surat_jalan"],
            "properties": {
                "id": {"type": "string"}, "number": {"type": "string"},
                "reference": {"type": "string", "description": "The surat jalan's QR text."},
                "status": {"type": "string", "enum": ["recorded", "already_recorded"]},
                "from": {"type": "string"}, "to": {"type": "string"},
                "operator": {"type": "string"}, "closed_at": _TS, "recorded_at": _TS,
                "koli": koli, "receipt": _nullable(receipt),
                "surat_jalan": {"type": "string", "pattern": "^/api/v1/"},
                "digest": {"type": "string", "description": "Its current digest (GET only)."},
                "confirmations": {"type": "object", "description": (
                    "GET only: `giver` and `receiver`, each a Confirmation or null.")}}},
        "Receipt": receipt,
    }


def _nullable(schema: dict) -> dict:
    """Return a schema that also accepts null."""
    return {**schema, "nullable": True}


_TS = {"type": "string", "format": "date-time"}


_COUNT = {"type": "integer", "minimum": 0}


def _place() -> dict:
    """Return the schema of a location named in an answer."""
    return {"type": "object", "required": ["code", "name", "level"],
            "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                           "level": {"type": "string", "enum": list(LEVELS)}}}


def _package_schema() -> dict:
    """Return the schema of a package of the plan."""
    return {"type": "object",
            "required": ["package_id", "item_type", "quantity", "destination", "dapil",
                         "label_version"],
            "properties": {
                "package_id": {"type": "string"}, "item_type": {"type": "string"},
                "quantity": {"type": "integer"}, "destination": {"type": "string"},
                "destination_name": {"type": "string"},
                "dapil": {"type": "string", "description": "Empty when the item has none."},
                "label_version": {"type": "integer"},
                "container": _nullable({"type": "string", "description":
                                        "The container it travels in now."}),
                "contents": {"type": "array", "items": {"type": "string"},
                             "description": "Packages packed in it (a container)."}}}


def _expected_package_schema() -> dict:
    """Return the schema of a package in a scanner's expected list."""
    schema = _package_schema()
    return {**schema, "required": [*schema["required"], "verification_code"],
            "properties": {**schema["properties"], "verification_code": _nullable({
                "type": "string", "pattern": "^[A-Z2-7]{4}-[A-Z2-7]{4}$",
                "description": "The code printed under the current label's QR, for checking "
                               "hand-typed entries offline; null until the server knows "
                               "that label (printed, imported or scanned)."})}}


def _scan_schema() -> dict:
    """Return the schema of one scan as the scanner sends it."""
    props = {}
    for name, longest in TEXT_FIELDS.items():
        props[name] = {"type": "string", "maxLength": longest}
    props["id"].update({"format": "uuid", "description": "Client-made UUID: the idempotency key."})
    props["code"]["description"] = "The raw scanned text (a label, or `PKG XXXX-XXXX`)."
    props["location"]["description"] = "Code of the location where the scan happened."
    props["action"].update({"enum": list(ACTIONS)})
    props["scanned_at"].update({"format": "date-time", "description": "Device time, ISO-8601."})
    props["container"]["description"] = "Raw text of the container's label (pack/unpack)."
    props["disposition"].update({"enum": list(DISPOSITIONS)})
    props["seal"]["description"] = "Seal number on the container (pack, dispatch, receive)."
    for name, what in COUNT_FIELDS.items():
        props[name] = {"type": "integer", "minimum": 0, "maximum": MAX_COUNT,
                       "description": f"{what} (receive, unpack, inspect only)."}
    for name in BOOL_FIELDS:
        props[name] = {"type": "boolean", "description": "Recorded while offline."}
    props["device"] = {"description": "The scanner's own name for itself (string or number, "
                                      "at most 100 characters), kept with the scan."}
    return {"type": "object", "required": list(REQUIRED), "properties": props}


def _schemas() -> dict:
    """Return the component schemas."""
    return {
        "Error": {
            "type": "object", "required": ["error"], "additionalProperties": False,
            "properties": {"error": {
                "type": "object", "required": ["status", "code", "message"],
                "additionalProperties": False,
                "properties": {
                    "status": {"type": "integer", "minimum": 400, "maximum": 599},
                    "code": {"type": "string", "enum": ERROR_CODES},
                    "message": {"type": "string"},
                    "details": {"description": "More about the problem, e.g. the parameter."},
                }}},
        },
        "Health": {"type": "object", "required": ["status", "database"],
                   "properties": {"status": {"type": "string", "enum": ["ok"]},
                                  "database": {"type": "string", "enum": ["ok"]}}},
        "Me": {"type": "object",
               "required": ["role", "name", "region", "device_location", "may_scan", "may_resolve"],
               "properties": {
                   "role": {"type": "string", "enum": ["operator", "supervisor", "observer", "admin"]},
                   "name": {"type": "string"},
                   "region": {"type": "object", "required": ["code", "name", "level"],
                              "properties": {"code": {"type": "string"}, "name": {"type": "string"},
                                             "level": {"type": "string"}}},
                   "device_location": _nullable({"type": "string"}),
                   "may_scan": {"type": "boolean"}, "may_resolve": {"type": "boolean"},
                   "device": _nullable({"type": "integer", "description":
                                        "The device behind the token (null: a user's token)."}),
                   "device_public_key": _nullable({"type": "string", "description":
                                                   "Its registered Ed25519 key (base64), null "
                                                   "until registered."})}},
        "Scan": _scan_schema(),
        "ScanBatch": {"type": "object", "required": ["scans"],
                      "properties": {"scans": {"type": "array", "minItems": 1,
                                               "items": {"$ref": "#/components/schemas/Scan"}}}},
        "ScanResult": {
            "type": "object", "required": ["id", "status", "anomalies", "error"],
            "properties": {
                "id": _nullable({"type": "string"}),
                "status": {"type": "string", "enum": ["recorded", "already_recorded", "rejected"]},
                "anomalies": {"type": "array", "items": {"type": "string"}},
                "error": _nullable({"type": "string"}),
                "note": {"type": "string", "description": "Present when something could not "
                         "be checked, e.g. 'verification code not checked: label not "
                         "registered' for a hand-typed code."}}},
        "ScanResults": {"type": "object", "required": ["results"],
                        "properties": {"results": {"type": "array",
                                                   "items": {"$ref": "#/components/schemas/ScanResult"}}}},
        "Custody": {"type": "object", "required": ["package", "custody"],
                    "properties": {"package": _package_schema(),
                                   "custody": {"type": "array",
                                               "items": {"$ref": "#/components/schemas/CustodyEntry"}}}},
        "CustodyEntry": {
            "type": "object",
            "required": ["scan_id", "action", "location", "scanned_at", "received_at", "offline",
                         "anomalies"],
            "properties": {
                "scan_id": {"type": "string", "description": "The scan's UUID."},
                "action": {"type": "string", "enum": list(ACTIONS)},
                "location": {"type": "string"}, "location_name": {"type": "string"},
                "scanned_at": {**_TS, "description": "Device time."},
                "received_at": {**_TS, "description": "Server time."},
                "operator": _nullable({"type": "string"}), "device": _nullable({"type": "string"}),
                "offline": {"type": "boolean"},
                "disposition": {"type": "string", "enum": list(DISPOSITIONS)},
                "seal": _nullable({"type": "string"}),
                "counted_quantity": _nullable({"type": "integer", "description":
                                               "What the receiver counted in it."}),
                "damaged_quantity": _nullable({"type": "integer", "description":
                                               "How many of those were damaged."}),
                "via_container": _nullable({"type": "string", "description":
                                            "The container scanned instead of the package."}),
                "counted": {"type": "boolean", "description": "False for a duplicate scan."},
                "anomalies": {
                    "type": "array", "items": {"$ref": "#/components/schemas/EvidenceMark"},
                    "description": "The anomalies of the package (or of the container it was "
                                   "in) this scan is evidence for, e.g. a cloned copy's receipt; "
                                   "empty for a normal handover. Anomalies the system closed "
                                   "because later scans disproved them are left out."}}},
        "EvidenceMark": {
            "type": "object", "required": ["id", "kind", "status", "location"],
            "properties": {
                "id": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
                "kind": {"type": "string", "enum": list(ANOMALY_KINDS)},
                "status": {"type": "string", "enum": list(ANOMALY_STATUSES)},
                "location": _nullable({"type": "string", "description":
                                       "Where the anomaly was found: for a cloned label, the "
                                       "suspect copy's place."})}},
        "Anomaly": {
            "type": "object",
            "required": ["id", "kind", "package_id", "location", "detected_at", "status", "evidence"],
            "properties": {
                "id": {"type": "integer", "minimum": 1, "maximum": MAX_ROW_ID},
                "kind": {"type": "string", "enum": list(ANOMALY_KINDS)},
                "package_id": _nullable({"type": "string"}),
                "location": _nullable({"type": "string"}),
                "detected_at": _TS,
                "status": {"type": "string", "enum": list(ANOMALY_STATUSES)},
                "evidence": {"type": "array", "items": {"type": "string"},
                             "description": "Ids (UUIDs) of the scans that show it."},
                "detail": {"type": "string",
                           "description": "What happened, in English with UTC times (kept for "
                                          "existing clients; see description and facts)."},
                "description": {"type": "string",
                                "description": "What happened, in the language asked for with "
                                               "Accept-Language (id or en) and times in the "
                                               "server's display zone (WIB by default)."},
                "facts": {"type": "object",
                          "description": "What happened as data: places {level, code, name}, "
                                         "times ISO 8601 UTC; one shape per kind, see "
                                         "docs/anomalies.md. Empty for anomalies stored before "
                                         "facts were kept."},
                "acknowledged_at": _nullable(_TS), "acknowledged_by": _nullable({"type": "string"}),
                "resolved_at": _nullable(_TS), "resolved_by": _nullable({"type": "string"}),
                "resolution_note": _nullable({"type": "string"})}},
        "AnomalyPage": {"type": "object", "required": ["anomalies"],
                        "properties": {
                            "anomalies": {"type": "array",
                                          "items": {"$ref": "#/components/schemas/Anomaly"}},
                            "next": {"type": "string", "pattern": "^/api/v1/"}}},
        "Resolution": {"type": "object", "required": ["note"],
                       "properties": {
                           "note": {"type": "string", "minLength": 1, "maxLength": MAX_NOTE,
                                    # Something besides spaces, and no NUL.
                                    "pattern": r"^[^\u0000]*[^\u0000\s][^\u0000]*$"},
                           "status": {"type": "string", "enum": list(RESOLVE_STATUSES),
                                      "default": "resolved"}}},
        "ResolvedAnomaly": {"type": "object", "required": ["anomaly"],
                            "properties": {"anomaly": {"$ref": "#/components/schemas/Anomaly"}}},
        "Progress": {
            "type": "object", "required": ["region", "children", "here"],
            "description": "One rule at every level: packages count under their destination, "
                           "an open anomaly under the place where it happened (`anomalies`) "
                           "and, apart, under its package's destination "
                           "(`anomalies_bound_here`). A region's row one level up is the sum "
                           "of its `children` and its own office (`here`).",
            "properties": {
                "region": _place(),
                "children": {"type": "array", "items": {"$ref": "#/components/schemas/ProgressRow"}},
                "here": {"$ref": "#/components/schemas/ProgressRow"}}},
        "ProgressRow": {
            "type": "object",
            "required": ["code", "name", "level", "expected", "dispatched", "received",
                         "anomalies", "anomalies_bound_here", "overdue"],
            "properties": {
                **_place()["properties"],
                "expected": _COUNT, "dispatched": _COUNT,
                "received": {"type": "object", "additionalProperties": _COUNT,
                             "description": "Packages received, per level."},
                "anomalies": {"type": "object", "additionalProperties": _COUNT,
                              "description": "Open anomalies that happened here, per kind."},
                "anomalies_bound_here": {
                    "type": "object", "additionalProperties": _COUNT,
                    "description": "Open anomalies of packages bound here, wherever they "
                                   "happened, per kind."},
                "overdue": {"type": "integer", "description":
                            "Packages past their deadline and not yet delivered."},
                "counted": {
                    "type": "object", "required": ["packages", "labelled", "units", "damaged"],
                    "description": "What the receivers counted where the packages were bound "
                                   "(the latest count there, as of `as_of`): how many packages "
                                   "were counted, the units the plan states for them "
                                   "(`labelled`), the units counted, and how many of those "
                                   "were damaged. Packages nobody counted there are left out.",
                    "properties": {"packages": _COUNT, "labelled": _COUNT, "units": _COUNT,
                                   "damaged": _COUNT}}}},
        "LedgerHead": {"type": "object", "required": ["seq", "chain", "signed_at", "key_id",
                                                      "signature"],
                       "properties": {"seq": {"type": "integer", "minimum": 0},
                                      "chain": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                                      "signed_at": {"type": "string"},
                                      "key_id": {"type": "string"},
                                      "signature": {"type": "string", "pattern": "^[0-9a-f]{128}$"}}},
        "LedgerEntries": {"type": "object", "required": ["entries", "next"], "properties": {
            "entries": {"type": "array", "items": {
                "type": "object", "required": ["seq", "kind", "digest"],
                "properties": {"seq": {"type": "integer"}, "kind": {"type": "string"},
                               "digest": {"type": "string", "pattern": "^[0-9a-f]{64}$"}}}},
            "next": _nullable({"type": "integer"})}},
        "LedgerKey": {"type": "object", "required": ["key_id", "public_key"],
                      "properties": {"key_id": {"type": "string"},
                                     "public_key": {"type": "string"}}},
        "Keys": {"type": "object", "required": ["keys"],
                 "properties": {"keys": {"type": "array", "items": {
                     "type": "object", "required": ["key_id", "name", "public_key_pem"],
                     "properties": {"key_id": {"type": "string"}, "name": {"type": "string"},
                                    "public_key_pem": {"type": "string"}}}}}},
        "Expected": {
            "type": "object", "required": ["location", "packages"],
            "properties": {
                "location": {"type": "object", "required": ["code", "name", "level", "path", "dapil"],
                             "properties": {
                                 "code": {"type": "string"}, "name": {"type": "string"},
                                 "level": {"type": "string", "enum": list(LEVELS)},
                                 "path": {"type": "array", "items": {"type": "string"},
                                          "description": "Codes from the root down to this location."},
                                 "dapil": {"type": "array", "items": {"type": "string"}}}},
                "packages": {"type": "array", "items": _expected_package_schema()},
                "next": {"type": "string", "pattern": "^/api/v1/"}}},
        **_shipment_schemas(),
        **_party_schemas(),
    }


def document() -> dict:
    """Return the OpenAPI 3.0 document of /api/v1."""
    return {
        "openapi": "3.0.3",
        "info": {"title": "Jejak API", "version": API_VERSION,
                 "description": "Chain of custody for election logistics. Every error has the "
                                "shape {\"error\": {\"status\", \"code\", \"message\", "
                                "[\"details\"]}}. See docs/api.md."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearerAuth": []}],
        "paths": _paths(),
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                               "description": "A token from `jejak-server "
                                                              "create-token` or `create-device`."}},
            "schemas": _schemas(),
        },
    }
