"""The agents' MQTT link on its own, against a real broker."""

from __future__ import annotations

import socket

from bobby_edge.config import Broker
from bobby_edge.mqtt import MqttLink
from tests.support.mosquitto import Mosquitto
from tests.support.probe import Probe


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
