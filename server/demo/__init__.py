"""The demo region (Kabupaten Probolinggo mid-distribution): its plan, its scans with planted problems, and loading both."""
