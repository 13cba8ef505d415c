"""The one error shape of the JSON API, built in one place.

Every error answer is ``{"error": {"status": 400, "code": "bad_request", "message": "..."}}``
(plus ``"details"`` where there is more to say, e.g. per-field problems).
"""

from __future__ import annotations

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

from server.errors import _CODES, ApiError


def error_response(status: int, message: str, code: str | None = None, details=None, headers=None):
    """Build the JSON error response every API error uses."""
    body = {"status": status, "code": code or _CODES.get(status, "error"), "message": message}
    if details is not None:
        body["details"] = details
    response = jsonify({"error": body})
    response.status_code = status
    if headers:
        response.headers.update(headers)
    return response


class HeaderedError(ApiError):
    """An ApiError answered with extra headers (Retry-After on 429 and 503)."""

    def __init__(self, status: int, message: str, code: str | None = None, details=None,
                 headers: dict | None = None):
        super().__init__(status, message, code, details)
        self.headers = headers or {}

    def response(self):
        """Return the error answer with its headers."""
        return error_response(self.status, self.message, self.code, self.details,
                              headers=self.headers)


class RateLimited(HeaderedError):
    """The token made more requests this minute than RATE_LIMIT_PER_MINUTE allows."""

    def __init__(self, retry_after: str, limit: int):
        super().__init__(429, f"more than {limit} requests a minute with this token; "
                              f"retry in {retry_after} s", code="rate_limited",
                         details={"limit_per_minute": limit, "retry_after": int(retry_after)},
                         headers={"Retry-After": retry_after})


RETRY_AFTER_SECONDS = 5  # what a client waits before retrying when the database is away


class DatabaseUnavailable(HeaderedError):
    """503 with Retry-After: the database could not do it, nothing was kept, retry later."""

    def __init__(self, message: str = "the database is unavailable; nothing was changed, "
                                      "retry later"):
        super().__init__(503, message, code="database_unavailable",
                         headers={"Retry-After": str(RETRY_AFTER_SECONDS)})


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def init_app(app: Flask) -> None:
    """Answer API errors (ours and werkzeug's) in the common shape."""

    @app.errorhandler(ApiError)
    def _api_error(exc: ApiError):
        return error_response(exc.status, exc.message, exc.code, exc.details)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException):
        if not _wants_json():
            return exc
        headers = {}
        if exc.code == 401:
            headers["WWW-Authenticate"] = 'Bearer realm="jejak"'
        if exc.code == 405 and getattr(exc, "valid_methods", None):
            headers["Allow"] = ", ".join(exc.valid_methods)  # RFC 9110 requires it on 405
        return error_response(exc.code or 500, exc.description or exc.name, headers=headers)

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        if isinstance(exc, HTTPException):
            return _http_error(exc)
        app.logger.exception("unhandled error on %s %s", request.method, request.path)
        if not _wants_json():
            return "Internal server error", 500
        return error_response(500, "internal error; the request was not applied")
