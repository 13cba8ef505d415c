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
