"""The domain functions the dashboard calls: one place naming them, so pages never re-implement them.

``server.reconcile`` (progress, anomalies, resolution) and ``server.custody``
(chain of custody) are the single source of truth; the API calls the same ones.
"""

from __future__ import annotations

from .. import custody, reconcile


def progress(session, region, as_of=None) -> dict:
    """Return the per-child progress of a region."""
    return reconcile.progress(session, region, as_of=as_of)


def list_anomalies(session, region, kind=None, status=None, as_of=None, after_id=None, limit=200):
    """Return (anomalies, last id or None) in a region, oldest first."""
    return reconcile.list_anomalies(session, region, kind=kind, status=status, as_of=as_of,
                                    after_id=after_id, limit=limit)


def resolve(session, anomaly_id, principal, note, status="resolved") -> dict:
    """Acknowledge or resolve an anomaly (the caller commits)."""
    return reconcile.resolve(session, anomaly_id, principal, note, status=status)


def chain(session, package_id: str) -> dict | None:
    """Return a package and its chain of custody, or None."""
    return custody.chain(session, package_id)
