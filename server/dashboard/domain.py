"""The domain functions the dashboard calls: one place naming them, so pages never re-implement them.

``server.reconcile`` (progress, anomalies, resolution, chain of custody) are the single source of truth; the API calls the same ones.
"""

from __future__ import annotations

from server.reconcile import anomalies, custody, returns
from server.reconcile import progress as progress_reads


def progress(session, region, as_of=None) -> dict:
    """Return the per-child progress of a region."""
    report = progress_reads.progress(session, region, as_of=as_of)
    keep_sweep(session)
    return report


def return_progress(session, region, as_of=None) -> dict:
    """Return how far a region's packages have come back after voting, per child."""
    return returns.return_progress(session, region, as_of=as_of)


def list_anomalies(session, region, kind=None, status=None, as_of=None, after_id=None, limit=200):
    """Return (anomalies, last id or None) in a region, oldest first."""
    page = anomalies.list_anomalies(session, region, kind=kind, status=status, as_of=as_of,
                                    after_id=after_id, limit=limit)
    keep_sweep(session)
    return page


def keep_sweep(session) -> None:
    """Commit what the reads' missing-sweep recorded.

    Reads first sweep deadlines that have passed (``server.reconcile.sweep``)
    and remember it in ``deadline_sweeps``; left uncommitted, every page view
    would redo a sweep that takes seconds on a regency.
    """
    if session.new or session.dirty or session.in_transaction():
        session.commit()


def resolve(session, anomaly_id, principal, note, status="resolved") -> dict:
    """Acknowledge or resolve an anomaly (the caller commits)."""
    return anomalies.resolve(session, anomaly_id, principal, note, status=status)


def chain(session, package_id: str) -> dict | None:
    """Return a package and its chain of custody, or None."""
    return custody.chain(session, package_id)
