"""The domain functions the dashboard calls, with a stand-in while one is not yet written.

``server.reconcile`` and ``server.custody`` are the single source of truth for
progress, anomalies and chains of custody; the stand-ins in ``queries`` exist
only so the dashboard runs before those modules land.
"""

from __future__ import annotations

from . import queries


def progress(session, region, as_of=None) -> dict:
    """Return the per-child progress of a region (server.reconcile.progress)."""
    try:
        from ..reconcile import progress as domain_progress
    except ImportError:
        domain_progress = queries.fallback_progress
    return domain_progress(session, region, as_of=as_of)


def list_anomalies(session, region, kind=None, status=None, as_of=None, after_id=None, limit=200):
    """Return (anomalies, last id or None) in a region (server.reconcile.list_anomalies)."""
    try:
        from ..reconcile import list_anomalies as domain_list
    except ImportError:
        domain_list = queries.fallback_list_anomalies

    return domain_list(session, region, kind=kind, status=status, as_of=as_of,
                       after_id=after_id, limit=limit)


def resolve(session, anomaly_id, principal, note, status="resolved") -> dict:
    """Acknowledge or resolve an anomaly (server.reconcile.resolve)."""
    try:
        from ..reconcile import resolve as domain_resolve
    except ImportError:
        domain_resolve = queries.fallback_resolve

    return domain_resolve(session, anomaly_id, principal, note, status=status)


def chain(session, package_id: str) -> dict:
    """Return a package and its chain of custody (server.custody.chain)."""
    try:
        from ..custody import chain as domain_chain
    except ImportError:
        domain_chain = queries.fallback_chain
    return domain_chain(session, package_id)
