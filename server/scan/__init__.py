"""The phone scanner at /scan: a page, its web app manifest, its service worker, device enrolment.

The front end is plain ES modules in ``server/static/scan/`` (no build step); its vendored
libraries (zxing-wasm, @noble/ed25519) are copied into ``server/static/scan/vendor/`` by
``make web`` from the npm lock file after a SHA-256 check.  This Blueprint serves:

* ``GET /scan`` - the page (the same bytes for everyone: the device token lives in the phone's
  IndexedDB, put there from the ``#token=...`` fragment, which browsers never send);
* ``GET /scan/manifest.webmanifest`` - the PWA manifest (start_url and scope ``/scan``);
* ``GET /scan/app/<file>`` - the files of ``server/static/scan/`` (also at ``/static/scan/``): the
  page loads its modules, the decode worker and zxing-wasm from here, inside the service worker's
  scope, because a dedicated worker outside the scope (``/static/...``) is not controlled by it
  and would not start offline (verified in Chromium: "decoder failed" after an offline reload);
* ``GET /scan/sw.js`` - the service worker, with ``Service-Worker-Allowed: /scan`` so it can
  control the page at ``/scan`` (its default scope would be ``/scan/``), and a version derived
  from the bytes of every file it caches, so a deployment that changes one file updates phones;
* ``GET|POST /scan/enrol`` - for dashboard admins: register a device at a location and show the
  enrolment QR (``<base>/scan#token=<token>``) to scan with the phone.

docs/scanner-phone.md describes the page for people.
"""

from __future__ import annotations

from flask import Flask

from server.scan import enrol, pages


def init_app(app: Flask) -> None:
    """Register the /scan blueprint and the admins' enrolment page."""
    app.register_blueprint(pages.bp)
    enrol.init_app(app)
