"""A plain paho-mqtt client for tests: publishes like any device and records what it sees."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


@dataclass
class Received:
    topic: str
    payload: bytes
    retain: bool
    at: float  # time.monotonic() on arrival
    user_properties: dict[str, str] = field(default_factory=dict)


class Probe:
    """Subscribe to filters, keep every message, wait for one that matches a predicate."""

    def __init__(
        self,
        port: int,
        host: str = "127.0.0.1",
        *,
        username: str | None = None,
        password: str | None = None,
        tls_ca: str | None = None,
        tls_cert: str | None = None,
        tls_key: str | None = None,
        client_id: str = "",
    ) -> None:
        self.messages: list[Received] = []
        self._cond = threading.Condition()
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if username:
            self._client.username_pw_set(username, password)
        if tls_ca:
            self._client.tls_set(ca_certs=tls_ca, certfile=tls_cert, keyfile=tls_key)
        self._client.on_message = self._on_message
        self._client.connect(host, port)
        self._client.loop_start()

    def _on_message(self, _c: mqtt.Client, _u: object, msg: mqtt.MQTTMessage) -> None:
        props = dict(getattr(msg.properties, "UserProperty", []) or [])
        with self._cond:
            self.messages.append(Received(msg.topic, msg.payload, bool(msg.retain), time.monotonic(), props))
            self._cond.notify_all()

    def subscribe(self, topic_filter: str, qos: int = 1) -> None:
        done = threading.Event()
        self._client.on_subscribe = lambda *_args: done.set()
        self._client.subscribe(topic_filter, qos=qos)
        if not done.wait(5):
            raise TimeoutError(f"no SUBACK for {topic_filter}")

    @property
    def connected(self) -> bool:
        """Whether the broker still has this client (it drops one that breaks its limits)."""
        return self._client.is_connected()

    def publish(self, topic: str, payload: bytes | str, qos: int = 1, retain: bool = False) -> None:
        self._client.publish(topic, payload, qos=qos, retain=retain).wait_for_publish(5)

    def wait_for(
        self, predicate: Callable[[Received], bool], timeout: float = 10.0, since: int = 0
    ) -> Received:
        """The first message (from index `since`) that satisfies `predicate`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for msg in self.messages[since:]:
                    if predicate(msg):
                        return msg
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = sorted({m.topic for m in self.messages[since:]})
                    raise TimeoutError(f"no matching message within {timeout}s; topics seen: {seen}")
                self._cond.wait(remaining)

    def on_topic(self, topic: str, timeout: float = 10.0, since: int = 0) -> Received:
        return self.wait_for(lambda m: m.topic == topic, timeout, since)

    def count(self, topic: str, since: int = 0) -> int:
        with self._cond:
            return sum(1 for m in self.messages[since:] if m.topic == topic)

    def mark(self) -> int:
        """An index to pass as `since`: only messages after now."""
        with self._cond:
            return len(self.messages)

    def close(self) -> None:
        self._client.disconnect()
        self._client.loop_stop()
