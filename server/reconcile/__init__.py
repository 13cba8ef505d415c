"""Custody judgement: the rules, storing findings, the missing sweep, and the reads.

Modules: rules (plain Python over one package's timeline), timelines (loading what the rules
need), findings, sweep, anomalies, progress, custody (a package's chain).
"""
