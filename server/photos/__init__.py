"""Photo evidence: photos attached to scans, checked, stored by SHA-256 and chained in the ledger."""
