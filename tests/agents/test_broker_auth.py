"""Agents against a broker that wants a user name and password (as the Mosquitto add-on does), and TLS."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from tests.agents.camera_support import running_agent, write_samples
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe

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
            assert not agent.mqtt.connected.wait(3)
        assert "refused the connection" in caplog.text
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
        assert not agent.mqtt.connected.wait(3)
