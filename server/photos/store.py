"""The photo store: files on disk named by their SHA-256, written atomically.

Layout under the store's root (``PHOTO_DIR``, by default ``<instance>/photos``)::

    originals/ab/abcdef....jpg        the bytes as uploaded, never changed
    display/ab/abcdef....jpg          upright, at most 1280 px, no metadata
    thumb/ab/abcdef....jpg            upright, at most 320 px, no metadata

The two-character fan-out keeps directories small.  Originals are the
evidence (their hash is chained in the ledger, ``jejak-server verify-log``
re-hashes them); display copies are derived and are made again from the
original when missing, so a backup needs only ``originals/``.  Every file is
written to a temporary name in its directory, flushed to disk and renamed over
its final name, so a reader (or a second server sharing the volume) never sees
half a file.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from server.photos.images import EXTENSIONS, VARIANTS, display_copy

_HEX = frozenset("0123456789abcdef")


class PhotoStore:
    """Photos on disk under one root directory (see the module docstring for the layout)."""

    def __init__(self, root: Path | str):
        self.root = Path(root)

    def original_path(self, sha256: str, media_type: str) -> Path:
        """Return where the original of these bytes lives."""
        _check_hash(sha256)
        return self.root / "originals" / sha256[:2] / f"{sha256}.{EXTENSIONS[media_type]}"

    def copy_path(self, sha256: str, variant: str) -> Path:
        """Return where a display copy (``display`` or ``thumb``) lives."""
        _check_hash(sha256)
        if variant not in VARIANTS:
            raise ValueError(f"no display copy called {variant!r}")
        return self.root / variant / sha256[:2] / f"{sha256}.jpg"

    def put(self, sha256: str, media_type: str, data: bytes) -> None:
        """Keep an original and make its display copies (a file already right is left alone)."""
        path = self.original_path(sha256, media_type)
        if not (path.exists() and file_sha256(path) == sha256):
            _write_atomically(path, data)  # new, or repairs a file that lost its bytes
        for variant, side in VARIANTS.items():
            copy = self.copy_path(sha256, variant)
            if not copy.exists():
                _write_atomically(copy, display_copy(data, side))

    def original(self, sha256: str, media_type: str) -> bytes | None:
        """Return the original's bytes, or None when the file is gone."""
        try:
            return self.original_path(sha256, media_type).read_bytes()
        except FileNotFoundError:
            return None

    def copy(self, sha256: str, media_type: str, variant: str) -> bytes | None:
        """Return a display copy, made again from the original when missing (None: no original)."""
        path = self.copy_path(sha256, variant)
        try:
            return path.read_bytes()
        except FileNotFoundError:
            pass
        data = self.original(sha256, media_type)
        if data is None:
            return None
        made = display_copy(data, VARIANTS[variant])
        _write_atomically(path, made)
        return made


def file_sha256(path: Path) -> str:
    """Return the SHA-256 (hex) of a file's bytes, read in blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _check_hash(sha256: str) -> None:
    """Refuse anything but a lowercase SHA-256 hex digest (it becomes a file name)."""
    if len(sha256) != 64 or not set(sha256) <= _HEX:
        raise ValueError(f"not a SHA-256 hex digest: {sha256[:70]!r}")


def _write_atomically(path: Path, data: bytes) -> None:
    """Write bytes to a temporary file beside ``path``, flush it to disk, rename it over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=path.suffix)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o640)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
