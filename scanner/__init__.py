"""The Jejak scanner client (`jejak-scan`): sources, decoding, presentations, checks, outbox, upload.

It imports `labels` (the payload contract) but never `server`: it talks to the server only
through the HTTP API.  See docs/scanner.md.
"""
