"""Agents against a broker that wants a user name and password (as the Mosquitto add-on does), and TLS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from bobby_edge.config import ConfigError, load_camera
from tests.agents.camera_support import running_agent, write_samples
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until

USER, PASSWORD = "bobby", "s3cret-pass"


@pytest.fixture
def secured_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker", username=USER, password=PASSWORD).start()
    yield server
    server.stop()


def test_the_broker_refuses_anonymous_clients(secured_broker: Mosquitto) -> None:
    answered = threading.Event()
    reasons: list[ReasonCode] = []
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    client.on_connect = lambda _c, _u, _f, reason, _p: (reasons.append(reason), answered.set())
    client.connect(secured_broker.host, secured_broker.port)
    client.loop_start()
    try:
        assert answered.wait(5)
        assert reasons[0].is_failure
    finally:
        client.disconnect()
        client.loop_stop()


def test_camera_with_credentials_streams(secured_broker: Mosquitto, tmp_path: Path) -> None:
    probe = Probe(secured_broker.port, username=USER, password=PASSWORD)
    try:
        probe.subscribe("bobby/camera/cam1/#")
        write_samples(tmp_path / "pics")
        with running_agent(secured_broker, f"images:{tmp_path / 'pics'}", username=USER, password=PASSWORD):
            assert probe.on_topic("bobby/camera/cam1/status").payload == b"online"
            probe.on_topic("bobby/camera/cam1/frame")
    finally:
        probe.close()


def test_camera_with_a_wrong_password_is_refused_and_publishes_nothing(
    secured_broker: Mosquitto, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(secured_broker.port, username=USER, password=PASSWORD)
    try:
        probe.subscribe("bobby/#")
        write_samples(tmp_path / "pics")
        with running_agent(
            secured_broker, f"images:{tmp_path / 'pics'}", username=USER, password="wrong"
        ) as agent:
            wait_until(lambda: "refused the connection" in caplog.text, 30, "the broker's refusal")
            assert not agent.mqtt.connected.is_set()
        assert probe.count("bobby/camera/cam1/frame") == 0
    finally:
        probe.close()


@pytest.fixture
def tls_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(tmp_path / "broker", username=USER, password=PASSWORD, tls=True).start()
    yield server
    server.stop()


def test_camera_over_tls_streams(tls_broker: Mosquitto, tmp_path: Path) -> None:
    ca = str(tls_broker.ca_path)
    probe = Probe(tls_broker.port, username=USER, password=PASSWORD, tls_ca=ca)
    try:
        probe.subscribe("bobby/camera/cam1/#")
        write_samples(tmp_path / "pics")
        options = {"username": USER, "password": PASSWORD, "tls_ca": ca}
        with running_agent(tls_broker, f"images:{tmp_path / 'pics'}", **options):
            assert probe.on_topic("bobby/camera/cam1/status").payload == b"online"
            probe.on_topic("bobby/camera/cam1/frame")
    finally:
        probe.close()


def test_camera_without_the_ca_does_not_connect_to_a_tls_broker(
    tls_broker: Mosquitto, tmp_path: Path
) -> None:
    write_samples(tmp_path / "pics")
    with running_agent(tls_broker, f"images:{tmp_path / 'pics'}", username=USER, password=PASSWORD) as agent:
        wait_until(lambda: agent.mqtt._attempts >= 2, 30, "a failed connection attempt")
        assert not agent.mqtt.connected.is_set()
        assert agent.mqtt.connect_count == 0


@pytest.fixture
def mtls_broker(tmp_path: Path) -> Iterator[Mosquitto]:
    server = Mosquitto(
        tmp_path / "broker", username=USER, password=PASSWORD, tls=True, require_certificate=True
    ).start()
    yield server
    server.stop()


def test_camera_with_a_client_certificate_streams(mtls_broker: Mosquitto, tmp_path: Path) -> None:
    """Mutual TLS: the broker checks the agent's certificate as well as its password."""
    ca = str(mtls_broker.ca_path)
    probe_cert, probe_key = mtls_broker.client_certificate("probe")
    cert, key = mtls_broker.client_certificate("cam1")
    probe = Probe(
        mtls_broker.port,
        username=USER,
        password=PASSWORD,
        tls_ca=ca,
        tls_cert=str(probe_cert),
        tls_key=str(probe_key),
    )
    try:
        probe.subscribe("bobby/camera/cam1/#")
        write_samples(tmp_path / "pics")
        options = {
            "username": USER,
            "password": PASSWORD,
            "tls_ca": ca,
            "tls_cert": str(cert),
            "tls_key": str(key),
        }
        with running_agent(mtls_broker, f"images:{tmp_path / 'pics'}", **options):
            assert probe.on_topic("bobby/camera/cam1/status").payload == b"online"
            probe.on_topic("bobby/camera/cam1/frame")
    finally:
        probe.close()


def test_camera_without_a_client_certificate_is_refused(mtls_broker: Mosquitto, tmp_path: Path) -> None:
    write_samples(tmp_path / "pics")
    options = {"username": USER, "password": PASSWORD, "tls_ca": str(mtls_broker.ca_path)}
    with running_agent(mtls_broker, f"images:{tmp_path / 'pics'}", **options) as agent:
        wait_until(lambda: agent.mqtt._attempts >= 2, 30, "a failed connection attempt")
        assert not agent.mqtt.connected.is_set()
    assert agent.mqtt.connect_count == 0


def test_a_client_certificate_needs_its_key_and_the_ca(tmp_path: Path) -> None:
    cert = tmp_path / "cam.crt"
    cert.write_text("x")
    with pytest.raises(ConfigError, match="tls_cert and tls_key go together"):
        load_camera({"id": "cam1", "tls_ca": str(cert), "tls_cert": str(cert)}, environ={})
    with pytest.raises(ConfigError, match="tls_cert needs tls_ca"):
        load_camera({"id": "cam1", "tls_cert": str(cert), "tls_key": str(cert)}, environ={})
