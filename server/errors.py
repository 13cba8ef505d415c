"""Errors: the domain's base class, and the API error every view may raise.

``DomainError`` is what a user's mistake raises anywhere below the web layer
(a bad scan, file, key or command argument); handlers answer only it as 4xx, so
a bug (any other exception, a plain ``ValueError`` included) stays a 500 that
clients retry.  The JSON shape itself is built in ``server.api.errors``.
"""

from __future__ import annotations


class DomainError(ValueError):
    """A mistake in what a user gave (input, file, command): told back to them, never a 500.

    It stays a ``ValueError`` so callers that already treat bad values as the
    user's keep working; the API catches ``DomainError`` only.
    """


class ApiError(Exception):
    """An error to answer with the common shape; raise it from any API view."""

    def __init__(self, status: int, message: str, code: str | None = None, details=None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or _CODES.get(status, "error")
        self.details = details


_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
          405: "method_not_allowed", 409: "conflict", 413: "payload_too_large",
          415: "unsupported_media_type", 422: "unprocessable", 429: "rate_limited",
          500: "internal_error"}
