"""The pre-roll: the last seconds of encoded video, kept in memory as whole GOPs.

Encoded, not raw: 30 s of 1280×720 H.264 is a few MB, where raw frames would need
hundreds (a Pi Zero 2 W has 512 MB). The ring holds groups of pictures (a keyframe and
the frames that depend on it), so whatever it hands out starts with a keyframe and
decodes on its own. It drops whole GOPs from the old end once the rest still covers
`duration` seconds, and, as a guard against a stream without keyframes, past `max_bytes`.
"""

from __future__ import annotations

import threading
from collections import deque

from .packets import EncodedPacket


class PreRollRing:
    def __init__(self, duration: float, max_bytes: int) -> None:
        self.duration = duration
        self.max_bytes = max_bytes
        self._gops: deque[list[EncodedPacket]] = deque()
        self._bytes = 0
        self._lock = threading.Lock()

    @property
    def nbytes(self) -> int:
        return self._bytes

    def clear(self) -> None:
        with self._lock:
            self._gops.clear()
            self._bytes = 0

    def add(self, packet: EncodedPacket) -> None:
        with self._lock:
            if packet.keyframe:
                self._gops.append([packet])
            elif self._gops:
                self._gops[-1].append(packet)
            else:
                return  # nothing decodes before the first keyframe
            self._bytes += len(packet.data)
            self._trim(packet.time)

    def _trim(self, now: float) -> None:
        # Drop the oldest GOP while the next one still starts early enough to cover `duration`.
        while len(self._gops) > 1 and (
            self._gops[1][0].time <= now - self.duration or self._bytes > self.max_bytes
        ):
            self._bytes -= sum(len(p.data) for p in self._gops.popleft())

    def since(self, start: float) -> list[EncodedPacket]:
        """The packets from the last keyframe at or before `start` (or the oldest one) to now."""
        with self._lock:
            first = 0
            for index, gop in enumerate(self._gops):
                if gop[0].time <= start:
                    first = index
            return [packet for gop in list(self._gops)[first:] for packet in gop]
