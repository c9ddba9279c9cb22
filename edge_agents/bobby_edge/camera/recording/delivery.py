"""Delivery: publish spooled chunks, forget them when the core acknowledges them.

One thread sends, oldest event first and in sequence order, with at most `window`
chunks in flight (unacknowledged), so a core that is down does not make the agent push
the whole spool into paho's memory. A chunk in flight for `resend_after` seconds is sent
again, and after every reconnect everything unacknowledged is sent again: the core
takes duplicates in its stride (it keys chunks by event and sequence number).
Nothing is published while the broker is away (paho would queue it in memory).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .spool import Spool

_LOGGER = logging.getLogger(__name__)

DEFAULT_WINDOW = 4
IDLE_WAIT = 1.0

Publish = Callable[[bytes], bool]


class Delivery:
    def __init__(
        self,
        spool: Spool,
        publish: Publish,
        connected: threading.Event,
        resend_after: float,
        window: int = DEFAULT_WINDOW,
    ) -> None:
        self.spool = spool
        self.publish = publish
        self.connected = connected
        self.resend_after = resend_after
        self.window = window
        self.chunks_sent = 0  # publications, resends included
        self.chunks_acked = 0
        self.acks_rejected = 0  # chunk_acks without the chunk's token (forged, or not for this chunk)
        self._in_flight: dict[tuple[str, int], float] = {}  # → monotonic time sent
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="record-delivery", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def notify(self) -> None:
        """A new chunk is in the spool."""
        self._wake.set()

    def reconnected(self) -> None:
        """The broker (and maybe the core) may have lost what was in flight: send it all again."""
        with self._lock:
            self._in_flight.clear()
        self._wake.set()

    def acknowledged(
        self, event: str, seq: int, ok: bool = True, error: str | None = None, token: str | None = None
    ) -> None:
        """The core's `chunk_ack` (called on paho's thread).

        The chunk leaves the spool only if the ack echoes the token of its header: a client
        that did not read the chunk (the broker's ACL lets only the core read `chunk`) cannot
        make the camera drop video the core never got. A chunk spooled without a token (by
        an older agent) takes any ack.
        """
        expected = self.spool.token(event, seq)
        if expected is None:
            return  # not held (acknowledged already, or dropped): nothing to do
        if expected and token != expected:
            with self._lock:
                self.acks_rejected += 1
                first = self.acks_rejected == 1
            _LOGGER.log(
                logging.WARNING if first else logging.DEBUG,
                "ignoring a chunk_ack for %s/%d that does not echo the chunk's token: not from the core "
                "(another client on the broker?); the chunk stays in the spool (check the broker's ACL)",
                event,
                seq,
            )
            return
        if not ok:
            _LOGGER.warning("the core refused chunk %s/%d (%s): not sending it again", event, seq, error)
        removed = self.spool.ack(event, seq)
        with self._lock:
            self._in_flight.pop((event, seq), None)
            if removed:
                self.chunks_acked += 1
        self._wake.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(IDLE_WAIT)
            self._wake.clear()
            if not self.connected.is_set():
                continue
            self._send_due()

    def _send_due(self) -> None:
        now = time.monotonic()
        pending = self.spool.pending()
        with self._lock:
            held = set(pending)
            for key in list(self._in_flight):
                if key not in held:  # acknowledged, or dropped from a full spool
                    del self._in_flight[key]
            due = []
            for key in pending[: self.window]:
                sent = self._in_flight.get(key)
                if sent is None or now - sent >= self.resend_after:
                    due.append(key)
        for event, seq in due:
            if self._stop.is_set() or not self.connected.is_set():
                return
            payload = self.spool.read(event, seq)
            if payload is None:
                continue
            if not self.publish(payload):
                _LOGGER.debug("could not hand chunk %s/%d to the MQTT client; will retry", event, seq)
                return
            with self._lock:
                resend = (event, seq) in self._in_flight
                self._in_flight[(event, seq)] = time.monotonic()
                self.chunks_sent += 1
            _LOGGER.log(
                logging.INFO if resend else logging.DEBUG,
                "%s chunk %s/%d (%d bytes)",
                "re-sent unacknowledged" if resend else "sent",
                event,
                seq,
                len(payload),
            )
