"""The detector's side of the core's self-test (docs/protocol.md, "selftest").

The core sends a picture of a known person on `<base>/detector/<id>/selftest`; a worker
runs it through the same `Pipeline.analyse` as a camera frame without regions (decode,
the whole frame, the model, post-processing, then this detector's threshold and
min_area) and answers on `selftest_result` with the boxes it would report. Nothing is
published as a detection, and nothing is counted as a frame: the counters here are
`selftests` and `selftests_invalid` in the stats.

    paho thread:   on_message  check the request, keep the newest (one slot: latest wins)
    worker thread: run_next    analyse it and answer, before any waiting frame

Bad input never stops the detector: a request that cannot be read is counted and
logged (throttled, never the payload); a JPEG that cannot be decoded is answered
`ok: false` with the reason.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt

from .. import protocol
from ..logthrottle import BAD_INPUT_EVERY, LogThrottle
from . import decode
from .pipeline import Pipeline

_LOGGER = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Request:
    request_id: str
    jpeg: bytes


class SelfTests:
    """The self-test slot of one detector, and its counters (guarded by the agent's lock)."""

    def __init__(
        self,
        wake: threading.Condition,
        *,
        max_payload: int,
        limits: Callable[[], tuple[float, float]],
        answer: Callable[[dict[str, Any]], object],
    ) -> None:
        """`wake`: the condition the workers wait on for frames (a request wakes them too);
        `limits()`: the detector's (threshold, min_area) now; `answer(payload)` publishes
        a `selftest_result`."""
        self._wake = wake
        self._max_payload = max_payload
        self._limits = limits
        self._send = answer
        self._pending: Request | None = None
        self._log = LogThrottle(_LOGGER, BAD_INPUT_EVERY)
        self.answered = 0
        self.invalid = 0

    @property
    def waiting(self) -> bool:
        """Whether a request waits for a worker."""
        with self._wake:
            return self._pending is not None

    def counters(self) -> dict[str, int]:
        """The stats keys (docs/protocol.md, "stats")."""
        with self._wake:
            return {"selftests": self.answered, "selftests_invalid": self.invalid}

    # --- paho's thread --------------------------------------------------------------------

    def on_message(self, message: mqtt.MQTTMessage) -> None:
        payload = bytes(message.payload)
        try:
            header, jpeg = protocol.split_selftest(payload)
            decode.check_payload(jpeg, self._max_payload)
        except (protocol.ProtocolError, decode.InvalidFrame) as err:
            with self._wake:
                self.invalid += 1
            self._log.warning(
                "refused a %d-byte self-test on %.200s: %s", len(payload), message.topic, err, key="invalid"
            )
            return
        with self._wake:
            self._pending = Request(header["id"], jpeg)
            self._wake.notify()

    # --- a worker thread ------------------------------------------------------------------

    def run_next(self, pipeline: Pipeline) -> bool:
        """Analyse and answer the waiting request, if any; whether there was one."""
        with self._wake:
            request, self._pending = self._pending, None
        if request is None:
            return False
        self._send(self._answer(request, pipeline))
        with self._wake:
            self.answered += 1
        return True

    def _answer(self, request: Request, pipeline: Pipeline) -> dict[str, Any]:
        try:
            analysis = pipeline.analyse(request.jpeg, None, tiles=False, fine_tiles=False)
        except decode.InvalidFrame as err:
            self._log.warning("self-test %s: %s", request.request_id, err, key="undecodable")
            return {"id": request.request_id, "ok": False, "error": str(err)}
        except Exception:  # a model failure is the very thing the self-test must report
            self._log.exception("self-test %s: the analysis failed", request.request_id, key="failed")
            return {
                "id": request.request_id,
                "ok": False,
                "error": "the analysis failed (see the detector's log)",
            }
        people = analysis.select(*self._limits())
        return {
            "id": request.request_id,
            "ok": True,
            "boxes": [{"score": p.score, "box": list(p.box)} for p in people],
            "person_count": len(people),
            "inference_ms": round(analysis.inference_ms, 2),
            "frame_ms": round(analysis.total_ms, 2),
        }
