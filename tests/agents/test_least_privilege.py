"""The whole agent side under the SHIPPED ACL (docs/mosquitto/acl), one login per agent.

Frames, detections and commands flow; an agent can neither write another agent's topics
nor take over its session; a detector with too few rights says so in its log and its stats.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from bobby_edge import protocol
from tests.agents import test_detector_fixtures as fx
from tests.agents.camera_support import running_agent, send_command, wait_count, write_samples
from tests.agents.test_detector_fixtures import running_detector, scene, wait_until
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

model_path = fx.model_path

REPO = Path(__file__).resolve().parents[2]
SHIPPED_ACL = REPO / "docs" / "mosquitto" / "acl"
JPEG_HEADER = b"\xff\xd8\xff"  # what a refused publish carries does not matter
SHIPPED_CONF = REPO / "docs" / "mosquitto" / "bobby.conf"

# username = agent id; `pi4-a` is the detector listed in the shipped ACL.
LOGINS = {
    "homeassistant": "ha-secret",
    "cam1": "cam1-secret",
    "cam2": "cam2-secret",
    "pi4-a": "pi4-a-secret",
    "det-limited": "limited-secret",  # a detector someone forgot to list in the ACL
    "det-half": "half-secret",  # may read frames but not write detections
}


@pytest.fixture
def acl_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    # The shipped file as it is, plus one block a careless owner might write.
    acl = tmp_path / "acl"
    # det-half: a detector block copied without the detection and snapshot lines (its own
    # detector topics kept: no pattern gives them to every login any more).
    own = "".join(
        f"topic {'read' if ch == 'set' else 'write'} bobby/detector/det-half/{ch}\n"
        for ch in ("status", "info", "state", "ack", "stats", "set")
    )
    acl.write_text(SHIPPED_ACL.read_text() + "\nuser det-half\ntopic read bobby/camera/+/frame\n" + own)
    # The conf snippet's settings; use_username_as_clientid belongs to the agents' listener.
    assert "acl_file /share/mosquitto/acl" in SHIPPED_CONF.read_text()
    assert "#   use_username_as_clientid true" in SHIPPED_CONF.read_text()
    server = Mosquitto(
        tmp_path / "broker",
        users=LOGINS,
        acl_file=acl,
        listener_options=["use_username_as_clientid true"],
    ).start()
    yield server
    server.stop()


@pytest.fixture
def ha(acl_broker: Mosquitto) -> Iterator[Probe]:
    """Home Assistant's login: it sees everything."""
    client = Probe(acl_broker.port, username="homeassistant", password=LOGINS["homeassistant"])
    client.subscribe("bobby/#")
    yield client
    client.close()


def _login(user: str) -> dict[str, Any]:
    return {"username": user, "password": LOGINS[user]}


def _stats(probe: Probe, kind: str, agent_id: str) -> dict[str, Any]:
    message = probe.on_topic(f"bobby/{kind}/{agent_id}/stats", since=probe.mark(), timeout=20)
    return dict(protocol.parse_message(message.topic, message.payload)[1])


class Intruder:
    """A paho client with someone's real login, recording the broker's reason codes."""

    def __init__(self, broker: Mosquitto, user: str, client_id: str = "") -> None:
        self.connected = threading.Event()
        self.disconnected = threading.Event()
        self.pubacks: dict[int, ReasonCode] = {}
        self.subacks: dict[int, list[ReasonCode]] = {}
        self._answered = threading.Condition()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        self.client.username_pw_set(user, LOGINS[user])
        self.client.on_connect = lambda *_a: self.connected.set()
        self.client.on_disconnect = lambda *_a: self.disconnected.set()
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        assert self.connected.wait(5)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self._answered:
            self.pubacks[mid] = reason
            self._answered.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self._answered:
            self.subacks[mid] = reasons
            self._answered.notify_all()

    def publish(self, topic: str, payload: bytes | str) -> ReasonCode:
        mid = self.client.publish(topic, payload, qos=1).mid
        with self._answered:
            assert self._answered.wait_for(lambda: mid in self.pubacks, 5), f"no PUBACK for {topic}"
            return self.pubacks[mid]

    def subscribe(self, topic_filter: str) -> ReasonCode:
        _rc, mid = self.client.subscribe(topic_filter, qos=1)
        with self._answered:
            assert self._answered.wait_for(lambda: mid in self.subacks, 5), f"no SUBACK for {topic_filter}"
            return self.subacks[mid][0]

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def test_frames_detections_and_commands_flow_with_one_login_per_agent(
    acl_broker: Mosquitto, ha: Probe, model_path: Path, tmp_path: Path
) -> None:
    write_samples(tmp_path / "pics")  # the astronaut first: a person
    with (
        running_detector(acl_broker, ha, model_path, "pi4-a", **_login("pi4-a")) as detector,
        running_agent(acl_broker, f"images:{tmp_path / 'pics'}", **_login("cam1")),
    ):
        detection = ha.on_topic("bobby/camera/cam1/detection", timeout=60)
        assert protocol.parse_message(detection.topic, detection.payload)[1]["detector"] == "pi4-a"
        ha.on_topic("bobby/camera/cam1/snapshot")
        ha.on_topic("bobby/camera/cam1/preview")
        assert send_command(ha, {"id": "c1", "fps": 2})["ok"] is True
        mark = ha.mark()
        ha.publish("bobby/detector/pi4-a/set", protocol.encode({"id": "d1", "threshold": 0.6}))
        ack = ha.on_topic("bobby/detector/pi4-a/ack", since=mark)
        assert json.loads(ack.payload)["ok"] is True
        # The core's self-test reaches the detector and its answer reaches the core.
        mark = ha.mark()
        ha.publish("bobby/detector/pi4-a/selftest", protocol.encode_selftest("s1", scene("astronaut")))
        result = ha.on_topic("bobby/detector/pi4-a/selftest_result", timeout=30, since=mark)
        assert json.loads(result.payload)["id"] == "s1"
        assert json.loads(result.payload)["boxes"]
        assert _stats(ha, "detector", "pi4-a")["problems"] == []
        assert _stats(ha, "camera", "cam1")["problems"] == []
        assert detector.frames_received > 0


def test_recording_works_with_one_login_per_agent(
    acl_broker: Mosquitto, ha: Probe, model_path: Path, tmp_path: Path
) -> None:
    """A camera reads its own detections (they start an event) and chunk_acks, and writes
    its chunks: the clip reaches Home Assistant's login and the spool empties by its acks."""
    write_samples(tmp_path / "pics")  # the astronaut first: a person
    recording = {
        "record": True,
        "pre_roll": 1.0,
        "post_roll": 1.0,
        "chunk_seconds": 2.0,
        "chunk_resend": 2.0,
        "spool_dir": str(tmp_path / "spool"),
    }
    with (
        running_detector(acl_broker, ha, model_path, "pi4-a", **_login("pi4-a")),
        running_agent(acl_broker, f"images:{tmp_path / 'pics'}", **_login("cam1"), **recording),
    ):
        chunk = ha.on_topic("bobby/camera/cam1/chunk", timeout=60)
        header = protocol.parse_message(chunk.topic, chunk.payload)[1][0]
        ack = {"event": header["event"], "seq": header["seq"], "token": header["token"]}
        ha.publish("bobby/camera/cam1/chunk_ack", protocol.encode(ack))
        stats = ha.wait_for(
            lambda m: m.topic.endswith("cam1/stats") and json.loads(m.payload).get("chunks_acked", 0) >= 1,
            timeout=20,
        )
        assert json.loads(stats.payload)["problems"] == []


def test_a_forged_chunk_ack_does_not_delete_a_chunk(
    acl_broker: Mosquitto, ha: Probe, model_path: Path, tmp_path: Path
) -> None:
    """Issue 20 (3b): acks published while the core is away. Another agent's login is refused by
    the broker (only the core's login writes chunk_ack); a login that may write but did not read the
    chunk (the add-ons' login, a broker without the ACL) does not know its token: the camera keeps
    every chunk. The core's ack, which echoes the token, deletes it."""
    write_samples(tmp_path / "pics")  # the astronaut first: a person
    recording = {
        "record": True,
        "pre_roll": 1.0,
        "post_roll": 1.0,
        "chunk_seconds": 2.0,
        "chunk_resend": 60.0,
        "spool_dir": str(tmp_path / "spool"),
    }
    spool = tmp_path / "spool" / "cam1"
    intruder = Intruder(acl_broker, "cam2")
    try:
        with (
            running_detector(acl_broker, ha, model_path, "pi4-a", **_login("pi4-a")),
            running_agent(acl_broker, f"images:{tmp_path / 'pics'}", **_login("cam1"), **recording),
        ):
            chunk = ha.on_topic("bobby/camera/cam1/chunk", timeout=60)
            header = protocol.parse_message(chunk.topic, chunk.payload)[1][0]
            event, seq = header["event"], header["seq"]
            held = spool / event / f"{seq:06d}.chunk"
            assert held.is_file(), sorted(p.name for p in (spool / event).iterdir())
            forged = {"event": event, "seq": seq}
            assert intruder.publish("bobby/camera/cam1/chunk_ack", protocol.encode(forged)).value == 0x87
            for fake in (forged, {**forged, "token": "0" * 32}, {**forged, "ok": False, "error": "x"}):
                ha.publish("bobby/camera/cam1/chunk_ack", protocol.encode(fake))
            mark = ha.mark()
            ha.on_topic("bobby/camera/cam1/stats", since=mark, timeout=20)
            assert held.is_file()  # every forged ack ignored
            stats = _stats(ha, "camera", "cam1")
            assert stats["chunks_acked"] == 0
            ha.publish("bobby/camera/cam1/chunk_ack", protocol.encode({**forged, "token": header["token"]}))
            wait_until(lambda: not held.exists(), 20)
    finally:
        intruder.close()


@pytest.mark.parametrize(
    ("user", "topic", "payload"),
    [
        ("cam2", "bobby/camera/cam1/set", protocol.encode({"id": "evil", "enabled": False})),
        ("cam2", "bobby/camera/cam1/status", "offline"),
        ("cam2", "bobby/camera/cam1/stats", protocol.encode({"uptime": 1, "fps": 2})),
        ("cam2", "bobby/camera/cam1/state", protocol.encode({"enabled": True, "fps": 2})),
        ("cam2", "bobby/camera/cam1/frame", b"\xff\xd8\xff"),
        ("cam2", "bobby/camera/cam1/detection", b"{}"),  # a camera cannot fake a person
        ("cam2", "bobby/camera/cam2/detection", b"{}"),  # not even on its own camera
        ("pi4-a", "bobby/camera/cam1/set", protocol.encode({"id": "evil", "enabled": False})),
        ("pi4-a", "bobby/detector/det-limited/status", "offline"),
        # Issue 21: a camera's login cannot pose as a detector under its own id.
        ("cam2", "bobby/detector/cam2/info", protocol.encode({"kind": "detector", "id": "cam2"})),
        ("cam2", "bobby/detector/cam2/status", "online"),
        # Only the core's login acknowledges chunks: not another camera, not the camera itself,
        # not a detector.
        ("cam2", "bobby/camera/cam1/chunk_ack", protocol.encode({"event": "e1", "seq": 0})),
        ("cam2", "bobby/camera/cam2/chunk_ack", protocol.encode({"event": "e1", "seq": 0})),
        ("pi4-a", "bobby/camera/cam1/chunk_ack", protocol.encode({"event": "e1", "seq": 0})),
        ("cam2", "bobby/camera/cam1/chunk", b"{}\n"),
        # Live view: a camera streams only its own live topic.
        ("cam2", "bobby/camera/cam1/live", b"\xff\xd8\xff"),
        ("pi4-a", "bobby/camera/cam1/live", b"\xff\xd8\xff"),
        # Only the core's login sends a detector its self-test; only that detector answers.
        ("cam2", "bobby/detector/pi4-a/selftest", protocol.encode_selftest("x", JPEG_HEADER)),
        ("pi4-a", "bobby/detector/pi4-a/selftest", protocol.encode_selftest("x", JPEG_HEADER)),
        (
            "cam2",
            "bobby/detector/pi4-a/selftest_result",
            protocol.encode({"id": "x", "ok": True, "boxes": []}),
        ),
        (
            "pi4-a",
            "bobby/detector/det-limited/selftest_result",
            protocol.encode({"id": "x", "ok": False, "error": "e"}),
        ),
    ],
)
def test_an_agent_cannot_write_another_agents_topics(
    acl_broker: Mosquitto, ha: Probe, user: str, topic: str, payload: bytes | str
) -> None:
    intruder = Intruder(acl_broker, user)
    try:
        mark = ha.mark()
        assert intruder.publish(topic, payload).value == 0x87  # Not authorized
        # Its own topic goes through: the barrier that shows the refused one would have arrived.
        own = "bobby/camera/cam2/stats" if user == "cam2" else "bobby/detector/pi4-a/stats"
        assert not intruder.publish(own, protocol.encode({"uptime": 1, "fps": 0})).is_failure
        ha.on_topic(own, since=mark)
        assert ha.count(topic, since=mark) == 0
    finally:
        intruder.close()


def test_an_agent_cannot_read_another_agents_frames_or_commands(
    acl_broker: Mosquitto, ha: Probe, tmp_path: Path
) -> None:
    """Mosquitto's acl_file grants every SUBSCRIBE (its source says "FIXME") but checks each
    message against the login's read rights: a camera's login sees nothing of the others."""
    write_samples(tmp_path / "pics")
    intruder = Probe(acl_broker.port, username="cam2", password=LOGINS["cam2"])
    try:
        intruder.subscribe("bobby/#")
        with running_agent(acl_broker, f"images:{tmp_path / 'pics'}", **_login("cam1")):
            ha.on_topic("bobby/camera/cam1/frame")
            assert send_command(ha, {"id": "c1", "fps": 2})["ok"] is True
            ha.publish("bobby/camera/cam2/set", protocol.encode({"id": "barrier", "enabled": True}))
            intruder.on_topic("bobby/camera/cam2/set")  # its own commands do arrive
        assert {m.topic for m in intruder.messages} == {"bobby/camera/cam2/set"}
    finally:
        intruder.close()


def test_live_view_reaches_home_assistant_and_no_other_login(
    acl_broker: Mosquitto, ha: Probe, tmp_path: Path
) -> None:
    """A lease under the shipped ACL: the camera may write its `live` topic, HA reads it, and
    neither another camera nor a detector (which reads every camera's frames) sees a live frame."""
    write_samples(tmp_path / "pics")
    others = {
        user: Probe(acl_broker.port, username=user, password=LOGINS[user]) for user in ("cam2", "pi4-a")
    }
    try:
        for probe in others.values():
            probe.subscribe("bobby/#")
        with running_agent(acl_broker, f"images:{tmp_path / 'pics'}", fps=2.0, **_login("cam1")):
            ha.on_topic("bobby/camera/cam1/state")
            assert send_command(ha, {"id": "l1", "live": 10, "lease": 30})["state"]["live"] == 10.0
            wait_count(ha, "bobby/camera/cam1/live", 10, timeout=15)
            others["pi4-a"].on_topic("bobby/camera/cam1/frame")  # the detector still gets frames
            for user, own in (("cam2", "bobby/camera/cam2/set"), ("pi4-a", "bobby/detector/pi4-a/set")):
                ha.publish(own, protocol.encode({"id": "barrier", "enabled": True}))
                others[user].on_topic(own)
        for probe in others.values():
            assert not [m.topic for m in probe.messages if m.topic.endswith("/live")]
    finally:
        for probe in others.values():
            probe.close()


# A broker that checks subscriptions (Mosquitto's dynamic-security plugin): anonymous
# clients may use their own detector topics, but not subscribe to frames.
DETECTOR_WITHOUT_FRAMES = {
    "defaultACLAccess": {
        "publishClientSend": False,
        "publishClientReceive": True,
        "subscribe": False,
        "unsubscribe": True,
    },
    "clients": [],
    "groups": [{"groupname": "anonymous", "roles": [{"rolename": "own-topics"}]}],
    "roles": [
        {
            "rolename": "own-topics",
            "acls": [
                {"acltype": "publishClientSend", "topic": "bobby/detector/det-limited/#", "allow": True},
                # Its commands (and, for the test's watcher, what it publishes).
                {"acltype": "subscribePattern", "topic": "bobby/detector/det-limited/#", "allow": True},
            ],
        }
    ],
    "anonymousGroup": "anonymous",
}


@pytest.fixture
def dynsec_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker", dynamic_security=DETECTOR_WITHOUT_FRAMES).start()
    yield server
    server.stop()


def test_joining_the_detectors_group_without_the_right_is_refused(dynsec_broker: Mosquitto) -> None:
    """With acl_file anyone may join the shared group and swallow its turn of frames
    (docs/protocol.md); a broker that checks SUBSCRIBE refuses it, with reason 0x87."""
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    answers: list[list[ReasonCode]] = []
    done = threading.Event()
    client.on_subscribe = lambda _c, _u, _m, reasons, _p: (answers.append(reasons), done.set())
    client.connect(dynsec_broker.host, dynsec_broker.port)
    client.loop_start()
    try:
        client.subscribe("$share/bobby-detectors/bobby/camera/+/frame", qos=0)
        assert done.wait(5)
        assert answers[0][0].value == 0x87
    finally:
        client.disconnect()
        client.loop_stop()


def test_an_agent_cannot_take_over_another_agents_session(
    acl_broker: Mosquitto, ha: Probe, tmp_path: Path
) -> None:
    """Client id = username: another login with the camera's client id gets its own session."""
    write_samples(tmp_path / "pics")
    with running_agent(acl_broker, f"images:{tmp_path / 'pics'}", **_login("cam1")) as camera:
        assert camera.mqtt.connected.wait(5)
        ha.on_topic("bobby/camera/cam1/frame")
        mark = ha.mark()
        for client_id in ("cam1", "bobby-camera-cam1"):
            intruder = Intruder(acl_broker, "cam2", client_id=client_id)
            try:
                # The broker's answer to a later round trip: the takeover would have happened by then.
                assert not intruder.publish(
                    "bobby/camera/cam2/stats", protocol.encode({"uptime": 1, "fps": 0})
                ).is_failure
                ha.on_topic("bobby/camera/cam2/stats", since=mark)
            finally:
                intruder.close()
        frames_after = ha.mark()
        ha.on_topic("bobby/camera/cam1/frame", since=frames_after)
        assert camera.mqtt.connect_count == 1
        assert not [
            m for m in ha.messages[mark:] if m.topic == "bobby/camera/cam1/status" and m.payload == b"offline"
        ]


def test_a_detector_without_the_rights_says_so(
    dynsec_broker: Mosquitto, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: a detector limited to its own topics got 0 frames and said nothing."""
    watcher = Probe(dynsec_broker.port)
    try:
        watcher.subscribe("bobby/detector/det-limited/#")
        with running_detector(dynsec_broker, watcher, model_path, "det-limited"):
            problems = _stats(watcher, "detector", "det-limited")["problems"]
    finally:
        watcher.close()
    assert [p["code"] for p in problems] == ["not_authorised_subscribe_frame"]
    assert problems[0]["topic"] == "$share/bobby-detectors/bobby/camera/+/frame"
    assert problems[0]["count"] == 1
    assert "read access" in problems[0]["detail"]
    lines = [
        r.getMessage() for r in caplog.records if "refused to let this agent subscribe" in r.getMessage()
    ]
    assert len(lines) == 1
    assert "$share/bobby-detectors/bobby/camera/+/frame" in lines[0]
    assert "docs/mosquitto/acl" in lines[0]


def test_refused_detections_are_counted_logged_and_reported(
    acl_broker: Mosquitto, ha: Probe, model_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Issue 11: a detector's denied detections vanished (paho ignores the PUBACK's reason)."""
    camera = Intruder(acl_broker, "cam1")  # the camera's own login publishes its frames
    try:
        with running_detector(acl_broker, ha, model_path, "det-half", **_login("det-half")) as detector:
            for analysed in (1, 2, 3):  # one at a time: none is dropped for a newer one
                camera.client.publish("bobby/camera/cam1/frame", scene("astronaut")).wait_for_publish(5)
                wait_until(
                    lambda n=analysed: detector.frames_analysed == n, what=f"frame {analysed} analysed"
                )
            wait_until(
                lambda: [p["count"] for p in detector.problems.report()] == [3],
                what="three refusals counted",
            )
            problems = _stats(ha, "detector", "det-half")["problems"]
    finally:
        camera.close()
    assert [p["code"] for p in problems] == ["not_authorised_publish_detection"]
    assert problems[0]["count"] == 3
    assert problems[0]["topic"] == "bobby/camera/cam1/detection"
    assert ha.count("bobby/camera/cam1/detection") == 0
    lines = [r.getMessage() for r in caplog.records if "refused to let this agent publish" in r.getMessage()]
    assert len(lines) == 1  # throttled: one line a minute, not one per detection
    assert "write access to bobby/camera/cam1/detection" in lines[0]


def test_a_private_group_keeps_frames_from_an_intruder_in_the_shared_group(tmp_path: Path) -> None:
    """acl_file lets any login join `$share/bobby-detectors/...`: the broker then hands it its
    turn of frames, refuses it the read, and the frame is lost to the detectors. Detectors in
    a group only they know (BOBBY_GROUP) are out of its reach."""
    server = Mosquitto(tmp_path / "broker", users=LOGINS, acl_file=SHIPPED_ACL).start()
    frames, barrier = "bobby/camera/cam1/frame", "bobby/detector/pi4-a/set"
    clients: list[Probe] = []

    def login(user: str, client_id: str = "") -> Probe:
        clients.append(Probe(server.port, username=user, password=LOGINS[user], client_id=client_id))
        return clients[-1]

    try:
        intruder = login("cam2")
        intruder.subscribe(f"$share/bobby-detectors/{frames}", qos=0)  # granted: acl_file does not check
        in_default = login("pi4-a", "pi4-a-default-group")
        in_private = login("pi4-a", "pi4-a-private-group")
        for detector, group in ((in_default, "bobby-detectors"), (in_private, "k7Qp2xWv")):
            detector.subscribe(f"$share/{group}/{frames}", qos=0)
            detector.subscribe(barrier)
        camera, ha = login("cam1"), login("homeassistant")
        for _ in range(20):
            camera.publish(frames, b"\xff\xd8\xff")  # QoS 1: the broker has routed it on return
        ha.publish(barrier, protocol.encode({"id": "barrier", "enabled": True}))
        for detector in (in_default, in_private):
            detector.on_topic(barrier)  # every frame routed to it arrived before this
        assert in_private.count(frames) == 20
        assert in_default.count(frames) == 10  # the intruder swallowed every other one
        assert intruder.count(frames) == 0
    finally:
        for client in clients:
            client.close()
        server.stop()


def test_a_camera_without_its_recording_rights_says_which_it_lacks(tmp_path: Path) -> None:
    """Issue 20 (1): under the ACL the README shipped before, a camera acked `ok` for a record
    command, spooled 3 chunks, delivered 0, and only its log said so. Its stats (which Home
    Assistant turns into a repair per problem, naming the topic and the right) list the refusal."""
    recording_lines = (
        "pattern read bobby/camera/%u/detection",
        "pattern write bobby/camera/%u/chunk",
        "pattern read bobby/camera/%u/chunk_ack",
    )
    shipped = SHIPPED_ACL.read_text()
    assert all(line in shipped for line in recording_lines)
    acl = tmp_path / "acl"
    acl.write_text("\n".join(line for line in shipped.splitlines() if line not in recording_lines) + "\n")
    broker = Mosquitto(tmp_path / "broker", users=LOGINS, acl_file=acl).start()
    ha = Probe(broker.port, username="homeassistant", password=LOGINS["homeassistant"])
    ha.subscribe("bobby/#")
    write_samples(tmp_path / "pics")
    recording = {"record": True, "chunk_seconds": 2.0, "spool_dir": str(tmp_path / "spool")}
    try:
        with running_agent(broker, f"images:{tmp_path / 'pics'}", **_login("cam1"), **recording):
            ha.on_topic("bobby/camera/cam1/frame", timeout=20)
            mark = ha.mark()
            ha.publish(
                "bobby/camera/cam1/set", protocol.encode({"id": "r1", "action": "record", "duration": 2})
            )
            ack = ha.on_topic("bobby/camera/cam1/ack", since=mark, timeout=10)
            assert json.loads(ack.payload)["ok"] is True

            def codes() -> set[str]:
                stats = ha.on_topic("bobby/camera/cam1/stats", since=ha.mark(), timeout=20)
                return {p["code"] for p in json.loads(stats.payload)["problems"]}

            # Mosquitto's acl_file does not check SUBSCRIBE (it filters what it delivers), so
            # only the refused publish can be seen by the camera itself.
            wait_until(lambda: "not_authorised_publish_chunk" in codes(), 40, "the refusal reported")
            assert ha.count("bobby/camera/cam1/chunk") == 0
    finally:
        ha.close()
        broker.stop()
