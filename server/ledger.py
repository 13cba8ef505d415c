"""Tamper-evident log: scan events and anomaly resolutions, hash-chained in commit order.

Placeholder API, implemented by its own change; ingest and resolution call it
inside their transaction, just before commit, so the chain order is the commit order.
"""

from __future__ import annotations


def append_scans(session, scan_rows) -> None:
    """Chain newly inserted ScanEvent rows (already flushed, in insertion order)."""


def append_resolution(session, anomaly) -> None:
    """Chain an anomaly's status change (acknowledged/resolved, by whom, when, note)."""
