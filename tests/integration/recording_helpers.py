"""A camera agent played by a paho client for the recording tests: it publishes chunks and reads acks."""

from __future__ import annotations

import json
from typing import Any

from homeassistant.core import HomeAssistant

from bobby_edge import protocol
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe, Received

from .common import payload

CAMERA = "porch"
CHUNK_TOPIC = f"bobby/camera/{CAMERA}/chunk"
ACK_TOPIC = f"bobby/camera/{CAMERA}/chunk_ack"


class FakeCameraLink:
    """The MQTT side of a camera agent that records: announces itself, sends chunks, collects acks."""

    def __init__(self, hass: HomeAssistant, broker: Mosquitto) -> None:
        self.hass = hass
        self.broker = broker
        self.probe = Probe(broker.port, broker.host)
        self.probe.subscribe(ACK_TOPIC)

    def announce(self, *, recording: bool = False) -> None:
        """Retained status, info (with the record capability), state, and one stats message."""
        info = payload("camera_porch", "info", capabilities=["fps", "preview", "record"])
        for channel, data in (
            ("status", "online"),
            ("info", info),
            ("state", payload("camera_porch", "state")),
        ):
            raw = data if isinstance(data, str) else json.dumps(data)
            self.probe.publish(f"bobby/camera/{CAMERA}/{channel}", raw, retain=True)
        self.stats(recording=recording)

    def stats(self, **recording: Any) -> None:
        data = payload("camera_porch", "stats", **recording)
        self.probe.publish(f"bobby/camera/{CAMERA}/stats", json.dumps(data))

    async def send(self, raw: bytes, topic: str = CHUNK_TOPIC) -> None:
        await self.hass.async_add_executor_job(self.probe.publish, topic, raw)

    async def ack(self, event: str, seq: int, *, since: int = 0, within: float = 30.0) -> dict[str, Any]:
        """The core's chunk_ack for (event, seq), published after `since`."""

        def matches(msg: Received) -> bool:
            if msg.topic != ACK_TOPIC:
                return False
            data = json.loads(msg.payload)
            return bool(data.get("event") == event and data.get("seq") == seq)

        found = await self.hass.async_add_executor_job(self.probe.wait_for, matches, within, since)
        result: dict[str, Any] = json.loads(found.payload)
        return result

    async def deliver(self, raw: bytes, event: str, seq: int, within: float = 30.0) -> dict[str, Any]:
        """Publish until acknowledged, as the camera agent resends (HA subscribes in batches: the
        first copy may reach the broker before HA's subscription does)."""
        import time

        deadline = time.monotonic() + within
        while True:
            since = self.mark()
            await self.send(raw)
            try:
                return await self.ack(event, seq, since=since, within=2.0)
            except TimeoutError:
                if time.monotonic() > deadline:
                    raise

    async def wait_subscribed(self) -> None:
        """Until HA reads the chunk topic: the closing chunk of a warm-up event is acknowledged."""
        header = {"v": 1, "camera": CAMERA, "event": "warm-up", "seq": 0, "start": 1.0, "duration": 0}
        await self.deliver(
            protocol.encode_chunk({**header, "last": True, "format": "mpegts"}, b""), "warm-up", 0
        )

    def acks(self, since: int = 0) -> list[dict[str, Any]]:
        return [json.loads(m.payload) for m in self.probe.messages[since:] if m.topic == ACK_TOPIC]

    def mark(self) -> int:
        return self.probe.mark()

    def close(self) -> None:
        self.probe.close()


async def until(check: Any, what: str, within: float = 30.0) -> Any:
    """Poll `check()` on HA's loop until it is truthy (a deadline, not a fixed sleep)."""
    import asyncio
    import time

    deadline = time.monotonic() + within
    while not (result := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        await asyncio.sleep(0.05)
    return result
