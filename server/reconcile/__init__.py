"""Custody judgement: the rules over a package's timeline, storing their findings, the missing sweep, and the reads (anomalies, progress, expected, chain of custody)."""
