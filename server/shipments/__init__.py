"""The surat jalan: a dispatch as one shipment, and its receipt judged at the handoff.

Plain Python over a SQLAlchemy session (no Flask, no click), like ``server.ingest``:

* ``records`` takes a closed shipment (the sender's list of koli) and gives it a
  number, and takes a closed receipt (the receiver's list) and compares the two
  at once: every koli of the shipment not received is ``short_shipment``, every
  koli received that was not in it ``not_in_shipment``, both at the receiving
  place, at the receipt's device time.  Both are idempotent by the uuid the
  scanner chose offline: a retried upload answers ``already_recorded``.
* The surat jalan PDF is drawn by ``server.reports.surat_jalan``; the QR text
  (``JSJ1.<number>.<uuid>``) is the contract in ``labels.shipment``.

The rules are documented in docs/anomalies.md (``short_shipment``,
``not_in_shipment``); the endpoints in docs/api.md.
"""
