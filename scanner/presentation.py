"""One scan per physical presentation of a label.

A camera sees a label held up for half a second in ~15 frames, and a noisy frame may miss it in
between; a USB scanner may fire twice on one trigger.  Both are ONE presentation.  The tracker
turns sightings (a text seen at a time) into presentations:

* frames: a text starts a new presentation when it has not been seen for `gap` seconds (it left
  the view and came back);
* texts from a wedge or serial scanner, where "leaving the view" cannot be seen: the same text
  read again within `repeat_window` seconds of its last read is the same trigger.

A new presentation of a label already recorded here is a re-scan: the station records it and
shows it as such (the server marks it `duplicate_scan`, counted once); that decision uses the
outbox, not this tracker, so it survives restarts.
"""
from __future__ import annotations

DEFAULT_GAP = 2.0
DEFAULT_REPEAT_WINDOW = 1.5


class PresentationTracker:
    """Decide which sightings start a new presentation; times are seconds on any one clock."""

    def __init__(self, gap: float = DEFAULT_GAP):
        if gap <= 0:
            raise ValueError(f"presentation gap must be positive, got {gap!r}")
        self.gap = gap
        self._last_seen: dict[str, float] = {}

    def sighted(self, text: str, t: float) -> bool:
        """Record one sighting of a text and return whether it starts a new presentation."""
        last = self._last_seen.get(text)
        self._last_seen[text] = t if last is None else max(last, t)
        return last is None or t - last >= self.gap

    def frame(self, texts: list[str], t: float) -> list[str]:
        """Record the texts decoded in one frame; return those that start a new presentation."""
        new = [text for text in dict.fromkeys(texts) if self.sighted(text, t)]
        self._forget(t)
        return new

    def forget(self, text: str) -> None:
        """Forget a text, so its next sighting starts a new presentation."""
        self._last_seen.pop(text, None)

    def _forget(self, t: float) -> None:
        """Drop texts out of view for longer than the gap."""
        # Keep memory bounded on a station that runs all day; a text not seen for a gap would
        # start a new presentation anyway, so forgetting it changes nothing.
        if len(self._last_seen) > 256:
            self._last_seen = {k: v for k, v in self._last_seen.items() if t - v < self.gap}
