"""The scanner page, its manifest, its service worker and the front-end files, under /scan."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from flask import Blueprint, Response, current_app, request, send_from_directory

STATIC = Path(__file__).resolve().parent.parent / "static" / "scan"
SCOPE = "/scan"

bp = Blueprint("scan", __name__)

APP = SCOPE + "/app"
# What the service worker caches for offline use (paths under /scan/app/ unless absolute).
# vendor/ files are only listed when present: `make web` puts them there.
SHELL = ["/scan", "/scan/manifest.webmanifest", "index.css", "app.js", "store.js", "checks.js",
         "session.js", "uploader.js", "devicekey.js", "camera.js", "feedback.js", "i18n.js",
         "decode-worker.js", "icons/icon-192.png", "icons/icon-512.png"]
VENDOR = ["vendor/zxing-wasm/share.js", "vendor/zxing-wasm/reader/index.js",
          "vendor/zxing-wasm/reader/zxing_reader.wasm", "vendor/noble-ed25519.js"]


def precache_list() -> list[str]:
    """Return the absolute URLs the service worker caches at install."""
    urls = []
    for name in SHELL + VENDOR:
        if name.startswith("/"):
            urls.append(name)
        elif (STATIC / name).is_file():
            urls.append(f"{APP}/{name}")
    return urls


def shell_version() -> str:
    """Return a short hash of every cached file's bytes: it changes when any of them changes."""
    cached = current_app.extensions.get("jejak.scan.version")
    if cached and not current_app.debug:
        return cached
    digest = hashlib.sha256()
    for name in ["index.html", "manifest.webmanifest", "sw.js"] + SHELL[2:] + VENDOR:
        path = STATIC / name
        if path.is_file():
            digest.update(name.encode() + b"\0" + path.read_bytes())
    version = digest.hexdigest()[:16]
    current_app.extensions["jejak.scan.version"] = version
    return version


def _no_cache(response: Response) -> Response:
    # The service worker decides what is kept offline; the HTTP cache must not serve stale code.
    response.headers["Cache-Control"] = "no-cache"
    return response


@bp.get(SCOPE)
def page():
    """Serve the scanner page (static: it learns everything else from the API)."""
    return _no_cache(send_from_directory(STATIC, "index.html", mimetype="text/html",
                                         max_age=0))


@bp.get(APP + "/<path:filename>")
def app_file(filename: str):
    """Serve a file of the front end inside the service worker's scope."""
    if filename.endswith(".wasm"):
        mimetype = "application/wasm"
    elif filename.endswith(".js"):
        mimetype = "text/javascript"
    else:
        mimetype = None
    return _no_cache(send_from_directory(STATIC, filename, mimetype=mimetype, max_age=0))


@bp.get(SCOPE + "/manifest.webmanifest")
def manifest():
    """Serve the web app manifest (installable PWA, scope /scan)."""
    return _no_cache(send_from_directory(STATIC, "manifest.webmanifest",
                                         mimetype="application/manifest+json", max_age=0))


@bp.get(SCOPE + "/sw.js")
def service_worker():
    """Serve the service worker with its version and cache list filled in."""
    text = (STATIC / "sw.js").read_text(encoding="utf-8")
    text = text.replace('"__VERSION__"', json.dumps(shell_version()))
    text = text.replace('["__PRECACHE__"]', json.dumps(precache_list()))
    response = Response(text, mimetype="text/javascript")
    response.headers["Service-Worker-Allowed"] = SCOPE
    return _no_cache(response)


def enrolment_url(base: str, token: str) -> str:
    """Return the address that enrols a phone: the token in the fragment, never sent to a server."""
    return base.rstrip("/") + SCOPE + "#token=" + token


@bp.after_request
def _headers(response: Response) -> Response:
    if request.path.startswith(SCOPE):
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
    return response
