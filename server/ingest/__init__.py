"""Scan ingest: each scan of a batch understood, recorded once, judged, answered in order."""
