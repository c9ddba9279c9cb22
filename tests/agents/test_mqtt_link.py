"""The agents' MQTT link on its own, against a real broker."""

from __future__ import annotations

import logging
import socket

import paho.mqtt.client as mqtt
import pytest

from bobby_edge.config import Broker
from bobby_edge.mqtt import MqttLink
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe
from tests.support.waiting import wait_until


def test_link_turns_nagle_off_and_its_will_is_offline(broker: Mosquitto, probe: Probe) -> None:
    probe.subscribe("t/status")
    link = MqttLink(Broker(broker.host, broker.port), client_id="link-test", will=("t/status", "offline"))
    link.start()
    try:
        assert link.connected.wait(5)
        sock = link._client.socket()
        assert isinstance(sock, socket.socket)
        # Small messages after a large one must not wait for a delayed ACK (see mqtt.py).
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
        # A dropped connection (no DISCONNECT) makes the broker publish the will.
        sock.close()
        assert probe.on_topic("t/status").payload == b"offline"
    finally:
        link.stop()


def test_a_handler_that_raises_on_a_flood_logs_one_traceback(
    broker: Mosquitto, probe: Probe, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[int] = []

    def handler(message: mqtt.MQTTMessage) -> None:
        handled.append(len(message.payload))
        raise ValueError("cannot handle it")

    link = MqttLink(Broker(broker.host, broker.port), client_id="flood-test", will=("t/status", "offline"))
    link.subscribe("t/in", handler)
    caplog.set_level(logging.ERROR, logger="bobby_edge.mqtt")
    probe.publish("t/in", b"secret payload", retain=True)  # delivered once the link subscribes
    link.start()
    try:
        wait_until(lambda: len(handled) == 1, 30, "the retained message handled")
        for _ in range(29):
            probe.publish("t/in", b"secret payload")
        wait_until(lambda: len(handled) == 30, 30, "30 messages handled")
    finally:
        link.stop()
    lines = [r for r in caplog.records if r.name == "bobby_edge.mqtt" and r.exc_info]
    assert len(lines) == 1
    assert lines[0].getMessage() == "error handling a 14-byte message on t/in"
