"""Texts of the command-sheet QR codes that switch a scanner's mode.

Imported by the scanner, so it imports nothing.  Every text uses only A-Z, 0-9,
'.' and '-' (the same wedge-safe alphabet as labels) and starts with
``JJK-CMD.``, which can never begin a label (labels start with ``J1.``).
"""

PREFIX = "JJK-CMD."

ACTION_RECEIVE = "JJK-CMD.ACTION.RECEIVE"
ACTION_DISPATCH = "JJK-CMD.ACTION.DISPATCH"
ACTION_PACK = "JJK-CMD.ACTION.PACK"
ACTION_UNPACK = "JJK-CMD.ACTION.UNPACK"
ACTION_INSPECT = "JJK-CMD.ACTION.INSPECT"
ACTION_HANDOVER = "JJK-CMD.ACTION.HANDOVER"
ACTION_RETURN = "JJK-CMD.ACTION.RETURN"
DISPOSITION_OK = "JJK-CMD.DISPOSITION.OK"
DISPOSITION_DAMAGED = "JJK-CMD.DISPOSITION.DAMAGED"
DISPOSITION_SEAL_BROKEN = "JJK-CMD.DISPOSITION.SEAL-BROKEN"
END_CONTAINER = "JJK-CMD.CONTAINER.END"
# Counting at the door, for wedge scanners without a keyboard: digits build the count of
# the next package scanned; DAMAGED switches the digits that follow to its damaged units.
COUNT_DIGITS = tuple(f"JJK-CMD.COUNT.{d}" for d in range(10))
COUNT_DAMAGED = "JJK-CMD.COUNT.DAMAGED"
COUNT_CLEAR = "JJK-CMD.COUNT.CLEAR"
# The surat jalan: open a shipment (its koli are the dispatch scans that follow), and close
# the open list - a shipment, or a receipt opened by scanning a surat jalan's QR.
SHIPMENT_OPEN = "JJK-CMD.SHIPMENT.OPEN"
SHIPMENT_CLOSE = "JJK-CMD.SHIPMENT.CLOSE"

# Text -> (kind, value) with the values the server uses (ACTIONS, DISPOSITIONS).
COMMANDS = {
    ACTION_RECEIVE: ("action", "receive"),
    ACTION_DISPATCH: ("action", "dispatch"),
    ACTION_PACK: ("action", "pack"),
    ACTION_UNPACK: ("action", "unpack"),
    ACTION_INSPECT: ("action", "inspect"),
    ACTION_HANDOVER: ("action", "handover"),
    ACTION_RETURN: ("action", "return"),
    DISPOSITION_OK: ("disposition", "ok"),
    DISPOSITION_DAMAGED: ("disposition", "damaged"),
    DISPOSITION_SEAL_BROKEN: ("disposition", "seal_broken"),
    END_CONTAINER: ("container", "end"),
    **{text: ("count", str(d)) for d, text in enumerate(COUNT_DIGITS)},
    COUNT_DAMAGED: ("count", "damaged"),
    COUNT_CLEAR: ("count", "clear"),
    SHIPMENT_OPEN: ("shipment", "open"),
    SHIPMENT_CLOSE: ("shipment", "close"),
}


def parse_command(text: str):
    """Return (kind, value) for a command text, or None when text is not a command."""
    return COMMANDS.get(text.strip().upper()) if isinstance(text, str) else None
