"""Label trust on the server: the trusted keys, the registry of printed labels' verification codes, printing from the database."""
