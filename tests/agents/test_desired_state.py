"""The agent keeps its last commanded state on disk: what Home Assistant turned off stays off
after a crash or reboot, even with Home Assistant down; stale commands are not applied."""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import time
from pathlib import Path

import pytest

from bobby_edge import protocol
from bobby_edge.state_store import StateStore
from tests.agents.camera_support import TOPIC, running_agent, send_command, write_samples
from tests.agents.conftest import spawn_agent
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe


def _camera_args(broker: Mosquitto, pictures: Path, state_dir: Path) -> list[str]:
    return [
        "camera",
        "--broker",
        broker.url,
        "--id",
        "cam1",
        "--source",
        f"images:{pictures}",
        "--fps",
        "5",
        "--width",
        "64",
        "--height",
        "48",
        "--stats-interval",
        "0.5",
        "--state-dir",
        str(state_dir),
    ]


def _retained_state(broker: Mosquitto) -> dict[str, object]:
    """The camera's retained state as a newcomer (Home Assistant starting) sees it."""
    late = Probe(broker.port)
    try:
        late.subscribe(f"{TOPIC}/state")
        message = late.on_topic(f"{TOPIC}/state")
        assert message.retain
        return dict(protocol.parse_message(message.topic, message.payload)[1])
    finally:
        late.close()


def test_a_camera_switched_off_comes_back_off_after_a_crash(
    broker: Mosquitto,
    probe: Probe,
    tmp_path: Path,
    agent_process: list[subprocess.Popen[bytes]],
) -> None:
    """The privacy failure of issue 11: switched off, killed (-9), restarted by systemd → on."""
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics", size=(64, 48))
    args = _camera_args(broker, tmp_path / "pics", tmp_path / "state")
    log = tmp_path / "camera.log"
    first = spawn_agent(agent_process, *args, log=log)
    probe.on_topic(f"{TOPIC}/frame", timeout=30)
    ack = send_command(probe, {"id": "off", "enabled": False, "fps": 3})
    assert ack["ok"] is True
    first.kill()  # a crash: no clean shutdown, nothing published on the way out
    first.wait(10)
    probe.wait_for(lambda m: m.topic == f"{TOPIC}/status" and m.payload == b"offline")

    mark = probe.mark()
    spawn_agent(agent_process, *args, log=log)  # no Home Assistant: nobody re-sends the command
    state = probe.on_topic(f"{TOPIC}/state", timeout=30, since=mark)
    assert protocol.parse_message(state.topic, state.payload)[1] == {"v": 1, "enabled": False, "fps": 3}
    assert _retained_state(broker) == {"v": 1, "enabled": False, "fps": 3}
    # Still off: a stats heartbeat later, not one frame.
    probe.on_topic(f"{TOPIC}/stats", since=probe.mark())
    probe.on_topic(f"{TOPIC}/stats", since=probe.mark())
    assert probe.count(f"{TOPIC}/frame", since=mark) == 0
    assert "restored the last commanded state" in log.read_text()


def test_the_saved_state_is_restored_in_process(broker: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics")
    source = f"images:{tmp_path / 'pics'}"
    with running_agent(broker, source):
        probe.on_topic(f"{TOPIC}/state")  # announced after subscribing to set: commands get through
        assert send_command(probe, {"id": "off", "enabled": False})["ok"] is True
    mark = probe.mark()
    with running_agent(broker, source) as agent:
        assert agent.full_state() == {"enabled": False, "fps": 10.0}
        probe.on_topic(f"{TOPIC}/state", since=mark)
        mark = probe.mark()
        assert send_command(probe, {"id": "on", "enabled": True, "fps": 4})["ok"] is True
        probe.on_topic(f"{TOPIC}/frame", since=mark)
    with running_agent(broker, source) as agent:
        assert agent.full_state() == {"enabled": True, "fps": 4}


def test_a_changed_configuration_wins_over_the_saved_value(
    broker: Mosquitto, probe: Probe, tmp_path: Path
) -> None:
    """The administrator edits fps in camera.yaml: the newest intent wins, `enabled` stays saved."""
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics")
    source = f"images:{tmp_path / 'pics'}"
    with running_agent(broker, source, fps=2.0):
        probe.on_topic(f"{TOPIC}/state")  # subscribed to its commands by now
        assert send_command(probe, {"id": "c", "enabled": False, "fps": 7})["ok"] is True
    with running_agent(broker, source, fps=2.0) as agent:
        assert agent.full_state() == {"enabled": False, "fps": 7}
    with running_agent(broker, source, fps=5.0) as agent:
        assert agent.full_state() == {"enabled": False, "fps": 5.0}


@pytest.mark.parametrize(
    "content",
    [
        b"{half a file",
        b"[" * 100_000,
        json.dumps({"file_version": 1, "state": {"enabled": "no"}, "config": {}}).encode(),
        json.dumps({"file_version": 1, "state": {"enabled": True, "fps": 999}, "config": {}}).encode(),
        json.dumps({"file_version": 1, "state": {"fps": 10**400}, "config": {}}).encode(),
        json.dumps({"file_version": 7, "state": {}, "config": {}}).encode(),
        b"\xff\xfe\x00garbage",
    ],
)
def test_a_corrupt_state_file_is_logged_and_the_configuration_used(
    tmp_path: Path, content: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    store = StateStore(tmp_path, "camera", "cam1")
    store.path.write_bytes(content)
    configured = {"enabled": True, "fps": 2.0}
    with caplog.at_level(logging.ERROR):
        assert store.restore(configured) == configured
    assert "is unusable" in caplog.text
    assert "starting from the configuration" in caplog.text
    assert len(caplog.text) < 1000  # the reason, never the file's content


def test_an_unwritable_state_dir_is_reported_and_the_command_still_applies(
    broker: Mosquitto, probe: Probe, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    if os.geteuid() == 0:
        # root writes through any mode: a file where the folder should be fails for everyone.
        state_dir = tmp_path / "not-a-folder"
        state_dir.write_text("")
    else:
        state_dir = tmp_path / "read-only"
        state_dir.mkdir()
        state_dir.chmod(0o500)
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics")
    with running_agent(broker, f"images:{tmp_path / 'pics'}", state_dir=str(state_dir)) as agent:
        probe.on_topic(f"{TOPIC}/state")
        ack = send_command(probe, {"id": "off", "enabled": False})
        assert ack["ok"] is True
        assert agent.full_state()["enabled"] is False
        stats = probe.on_topic(f"{TOPIC}/stats", since=probe.mark())
        problems = protocol.parse_message(stats.topic, stats.payload)[1]["problems"]
        assert [p["code"] for p in problems] == ["state_not_saved"]
        assert "cannot write" in problems[0]["detail"]
    assert "cannot save the state" in caplog.text
    assert "StateDirectory=" in caplog.text


def test_state_is_written_atomically(tmp_path: Path) -> None:
    store = StateStore(tmp_path / "new", "detector", "d1")
    assert store.save({"enabled": False, "threshold": 0.7, "min_area": 0.0}, {"enabled": True})
    assert json.loads(store.path.read_text())["state"]["enabled"] is False
    assert sorted(p.name for p in store.path.parent.iterdir()) == ["detector-d1.json"]  # no temp left


# --- command expiry ----------------------------------------------------------------------


def test_a_stale_command_is_answered_and_not_applied(broker: Mosquitto, probe: Probe, tmp_path: Path) -> None:
    """A command that waited past its expiry (agent frozen, queue replayed) must not undo
    what was decided since: HA told the user it failed."""
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics")
    with running_agent(broker, f"images:{tmp_path / 'pics'}") as agent:
        probe.on_topic(f"{TOPIC}/state")
        mark = probe.mark()
        ack = send_command(probe, {"id": "late", "enabled": False, "expires": time.time() - 13})
        assert ack["ok"] is False
        assert ack["code"] == "stale"
        assert "stale command" in ack["error"]
        assert agent.full_state()["enabled"] is True
        assert probe.count(f"{TOPIC}/state", since=mark) == 0
        protocol.parse_message(f"{TOPIC}/ack", json.dumps(ack))  # the contract accepts it
        # A fresh one applies.
        ack = send_command(probe, {"id": "fresh", "enabled": False, "expires": time.time() + 10})
        assert ack["ok"] is True
        assert agent.full_state()["enabled"] is False


@pytest.mark.parametrize(
    "case",
    [
        (b'{"v": 1, "id": "n", "enabled": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", "invalid", "nest"),
        (
            b'{"v": 1, "id": "h", "fps": ' + b"9" * 400 + b"}",
            "invalid",
            "'fps' must be a number|integer of 400",
        ),
        (
            b'{"v": 1, "id": "e", "enabled": false, "expires": ' + b"9" * 400 + b"}",
            "invalid",
            "'expires'|integer of 400",
        ),
        (
            b'{"v": 1, "id": "x", "enabled": false, "expires": "soon"}',
            "invalid",
            "'expires' must be a number",
        ),
        (b'{"v": 1, "id": "d", "enabled": {"a": [1, 2, {"b": []}]}}', "invalid", "'enabled' must be a bool"),
        (b'{"v": 1, "id": "f", "enabled": false, "action": "preview"}', "refused", "send enabled: true"),
    ],
)
def test_hostile_commands_get_an_ack_without_a_traceback(
    broker: Mosquitto,
    probe: Probe,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    case: tuple[bytes, str, str],
) -> None:
    payload, code, error = case
    probe.subscribe("bobby/camera/cam1/#")
    write_samples(tmp_path / "pics")
    with running_agent(broker, f"images:{tmp_path / 'pics'}") as agent:
        probe.on_topic(f"{TOPIC}/state")
        ack = send_command(probe, payload)
        assert ack["ok"] is False
        assert ack["code"] == code
        assert re.search(error, ack["error"])
        assert len(ack["error"]) < 400  # the reason, not the payload
        assert agent.full_state() == {"enabled": True, "fps": 10.0}
        # Still alive and obeying.
        assert send_command(probe, {"id": "after", "fps": 3})["ok"] is True
    assert "Traceback" not in caplog.text
    assert "9999999999" not in caplog.text
    assert "[[[[" not in caplog.text
