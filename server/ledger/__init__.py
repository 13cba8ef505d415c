"""The tamper-evident log: canonical content, the hash chain in commit order, signed checkpoints, verification and exports."""
