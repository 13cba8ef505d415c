"""Scan ingest: a batch of raw scans in, each understood, recorded once, judged and answered in order."""
