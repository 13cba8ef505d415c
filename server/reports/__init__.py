"""What supervisors print and download: local time, the scan log, CSV/XLSX tables and the BAST handover PDF."""
