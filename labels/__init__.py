"""Signed QR labels for election equipment packages.

``labels.payload`` is the format every part of Jejak agrees on; it imports only
the standard library and ``cryptography``.  Rendering (reportlab, QR encoders)
lives in ``labels.render`` and is imported only when labels are drawn.
"""

from .payload import (BadSignature, Label, PayloadError, SignedLabel, SupersededLabel,
                      UnknownKey, parse, sign, verify)

__all__ = ["BadSignature", "Label", "PayloadError", "SignedLabel", "SupersededLabel",
           "UnknownKey", "parse", "sign", "verify"]
