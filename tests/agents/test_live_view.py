"""Live view on the camera agent, against a real Mosquitto: a lease raises the rate of the
`live` topic only, the `frame` topic keeps its normal rate, and the lease ends by itself."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bobby_edge import protocol
from tests.agents.camera_support import (
    TOPIC,
    frame_times,
    running_agent,
    send_command,
    wait_count,
    write_samples,
)
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe, Received

LIVE = f"{TOPIC}/live"
FRAME = f"{TOPIC}/frame"


@pytest.fixture
def images(tmp_path: Path) -> str:
    write_samples(tmp_path / "images")
    return f"images:{tmp_path / 'images'}"


def on(probe: Probe, topic: str, since: int) -> list[Received]:
    return [m for m in probe.messages[since:] if m.topic == topic]


def arrival_rate(messages: list[Received]) -> float:
    return (len(messages) - 1) / (messages[-1].at - messages[0].at)


def states(probe: Probe, since: int) -> list[dict[str, object]]:
    return [json.loads(m.payload) for m in on(probe, f"{TOPIC}/state", since)]


def test_a_lease_streams_live_frames_while_frames_keep_their_rate(
    broker: Mosquitto, probe: Probe, images: str
) -> None:
    """Live at 10 fps for a 4 s lease nobody renews: live frames at 10 fps, frames at 2 fps,
    then the lease runs out, the state says so, and only frames go on."""
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, images, fps=2.0):
        info = json.loads(probe.on_topic(f"{TOPIC}/info").payload)
        assert protocol.LIVE in info["capabilities"]
        probe.on_topic(FRAME)
        since = probe.mark()
        ack = send_command(probe, {"id": "watch", "live": 10, "lease": 4})
        assert ack["state"] == {"v": 1, "enabled": True, "fps": 2.0, "live": 10.0}
        wait_count(probe, LIVE, 25, timeout=15, since=since)
        live = on(probe, LIVE, since)[:25]
        during = [m for m in on(probe, FRAME, since) if m.at <= live[-1].at]
        # Live frames are plain JPEGs of the camera's size, not retained, without properties.
        assert not live[0].retain
        assert not live[0].user_properties
        protocol.parse_message(live[0].topic, live[0].payload)

        # The lease runs out: the agent publishes its state without `live` by itself.
        probe.wait_for(
            lambda m: m.topic == f"{TOPIC}/state" and "live" not in json.loads(m.payload),
            timeout=15,
            since=since,
        )
        after = probe.mark()
        wait_count(probe, FRAME, 4, timeout=10, since=after)
        live_after = len(on(probe, LIVE, after))
    rate = arrival_rate(live)
    frame_rate = (len(during) - 1) / (frame_times(during)[-1] - frame_times(during)[0])
    print(f"live {rate:.1f} fps while frames went on at {frame_rate:.2f} fps")
    assert 7.0 <= rate <= 13.0, rate  # the live rate
    assert 1.5 <= frame_rate <= 2.5, frame_rate  # detectors' load unchanged
    assert live_after == 0
    # The frames during the lease carried motion regions, as before: they are the detectors' frames.
    assert all(protocol.REGIONS_PROPERTY in m.user_properties for m in during)


def test_renewal_keeps_it_live_and_live_zero_ends_it(broker: Mosquitto, probe: Probe, images: str) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, images, fps=1.0):
        probe.on_topic(f"{TOPIC}/state")
        start = time.monotonic()
        assert send_command(probe, {"id": "l1", "live": 8, "lease": 1.5})["state"]["live"] == 8.0
        assert send_command(probe, {"id": "l2", "live": 8, "lease": 60})["state"]["live"] == 8.0
        since = probe.mark()
        # Past the first lease's end: still live (the renewal counts, not the first lease).
        probe.wait_for(lambda m: m.topic == LIVE and m.at > start + 3.0, timeout=15, since=since)
        assert all("live" in s for s in states(probe, since))
        ack = send_command(probe, {"id": "l3", "live": 0})
        assert ack["state"] == {"v": 1, "enabled": True, "fps": 1.0}
        after = probe.mark()
        wait_count(probe, FRAME, 2, timeout=10, since=after)
        assert not on(probe, LIVE, after)


def test_the_agent_caps_the_rate_and_refuses_live_while_disabled(
    broker: Mosquitto, probe: Probe, images: str
) -> None:
    probe.subscribe(f"{TOPIC}/#")
    with running_agent(broker, images, fps=2.0, live_max_fps=5.0):
        probe.on_topic(f"{TOPIC}/state")
        assert send_command(probe, {"id": "fast", "live": 30, "lease": 30})["state"]["live"] == 5.0
        # Disabling ends the lease: nothing streams from a disabled camera.
        ack = send_command(probe, {"id": "off", "enabled": False})
        assert ack["state"] == {"v": 1, "enabled": False, "fps": 2.0}
        ack = send_command(probe, {"id": "again", "live": 10, "lease": 30})
        assert ack["ok"] is False
        assert ack["code"] == protocol.ACK_REFUSED
        assert "disabled" in ack["error"]
        for bad in (
            {"id": "b1", "live": 10},
            {"id": "b2", "lease": 10},
            {"id": "b3", "live": 0.05, "lease": 9},
        ):
            ack = send_command(probe, bad)
            assert (ack["ok"], ack["code"]) == (False, protocol.ACK_INVALID), bad
