"""The agents' MQTT link: MQTT v5, last will, reconnect with backoff, resubscribe.

paho-mqtt's network thread reconnects by itself; before each wait we set its delay
(`reconnect_delay_set`) to a jittered, doubling value capped at RECONNECT_MAX_DELAY, so
agents are back within seconds of a broker's return and do not all knock at once. On
every (re)connect we resubscribe and call `on_connected`, where an agent re-announces
its retained topics. SUBACK and PUBACK reason codes go to the agent's `problems`: a broker that
refuses us is noticed, logged and reported.
"""

from __future__ import annotations

import contextlib
import logging
import random
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from .config import Broker
from .logthrottle import BAD_INPUT_EVERY, LogThrottle
from .refusals import Problems

_LOGGER = logging.getLogger(__name__)

MessageHandler = Callable[[mqtt.MQTTMessage], None]

# Reconnect delays: 0.5, 1, 2, 3, 3, ... s, each jittered down by up to half. A broker
# back after an outage of any length sees its agents within RECONNECT_MAX_DELAY seconds.
RECONNECT_MIN_DELAY = 0.5
RECONNECT_MAX_DELAY = 3.0
KEEPALIVE = 30
TRACKED_PUBLISHES = 1024  # QoS 1 messages awaiting a PUBACK whose topic we remember


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before reconnect attempt `attempt` (1, 2, ...): "equal jitter" backoff."""
    ceiling = min(RECONNECT_MAX_DELAY, RECONNECT_MIN_DELAY * 2.0 ** min(attempt - 1, 16))
    return ceiling / 2 + random.uniform(0, ceiling / 2)


def client_id_for(broker: Broker, kind: str, agent_id: str) -> str:
    """The username when it is the agent's id (one login per agent): the session then belongs
    to whoever holds the password, as with Mosquitto's `use_username_as_clientid`."""
    if broker.username and broker.username == agent_id:
        return broker.username
    return f"bobby-{kind}-{agent_id}"


@dataclass(frozen=True, slots=True)
class _Subscription:
    subscribe_filter: str  # what we ask the broker for (may be `$share/...`)
    match_filter: str  # what incoming topics look like (shared prefix removed)
    qos: int
    handler: MessageHandler


def _without_share_prefix(topic_filter: str) -> str:
    if topic_filter.startswith("$share/"):
        return topic_filter.split("/", 2)[2]
    return topic_filter


def user_properties(**values: str) -> Properties:
    props = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    props.UserProperty = list(values.items())
    return props


class MqttLink:
    """One connection to the broker for one agent."""

    def __init__(
        self, broker: Broker, client_id: str, will: tuple[str, str], problems: Problems | None = None
    ) -> None:
        """`problems`: the agent's problem register, where the broker's refusals go."""
        self.broker = broker
        self.connected = threading.Event()
        self.on_connected: Callable[[], None] = lambda: None
        self.connect_count = 0
        self.problems = problems if problems is not None else Problems(broker.username)
        self._subscriptions: list[_Subscription] = []
        self._attempts = 0  # reconnect attempts since the last successful connection
        self._track_lock = threading.Lock()  # never held while calling into paho
        self._subscribing: dict[int, str] = {}  # SUBSCRIBE mid → filter
        self._publishing: dict[int, str] = {}  # QoS 1 PUBLISH mid → topic
        self._early_refusals: dict[int, ReasonCode] = {}  # PUBACK seen before publish() returned
        self._client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
        if broker.username:
            self._client.username_pw_set(broker.username, broker.password)
        if broker.tls_ca:
            self._client.tls_set(
                ca_certs=broker.tls_ca,
                certfile=broker.tls_cert,
                keyfile=broker.tls_key,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        will_topic, will_payload = will
        self._client.will_set(will_topic, will_payload, qos=1, retain=True)
        self._schedule_retry()
        self._client.on_connect = self._handle_connect
        self._client.on_connect_fail = self._handle_connect_fail
        self._client.on_disconnect = self._handle_disconnect
        self._client.on_publish = self._handle_puback
        self._client.on_subscribe = self._handle_suback

    def subscribe(self, topic_filter: str, handler: MessageHandler, qos: int = 0) -> None:
        """Register before `start()`; kept across reconnects."""
        sub = _Subscription(topic_filter, _without_share_prefix(topic_filter), qos, handler)
        self._subscriptions.append(sub)
        self._client.message_callback_add(sub.match_filter, self._guarded(handler))

    @staticmethod
    def _guarded(handler: MessageHandler) -> Callable[[mqtt.Client, Any, mqtt.MQTTMessage], None]:
        # An exception in a handler must never take down paho's network thread, and a flood
        # of messages that trip it must not flood the log with tracebacks.
        errors = LogThrottle(_LOGGER, BAD_INPUT_EVERY)

        def call(_client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
            try:
                handler(message)
            except Exception:
                errors.exception(
                    "error handling a %d-byte message on %.200s", len(message.payload), message.topic
                )

        return call

    def start(self) -> None:
        """Connect in the background; returns at once, retries until `stop()`."""
        _LOGGER.info("connecting to MQTT broker %s", self.broker.url)
        self._client.connect_async(self.broker.host, self.broker.port, keepalive=KEEPALIVE)
        self._client.loop_start()

    def stop(self, last_words: tuple[str, str] | None = None, timeout: float = 3.0) -> None:
        """Publish `last_words` (retained, QoS 1) if connected, then disconnect."""
        if last_words and self.connected.is_set():
            info = self._client.publish(last_words[0], last_words[1], qos=1, retain=True)
            try:
                info.wait_for_publish(timeout)
            except (RuntimeError, ValueError):
                _LOGGER.warning("could not publish %s before shutdown", last_words[0])
        self._client.disconnect()
        self._client.loop_stop()
        self.connected.clear()

    def publish(
        self,
        topic: str,
        payload: bytes | str,
        qos: int = 0,
        retain: bool = False,
        properties: Properties | None = None,
    ) -> bool:
        """Publish; returns False when the message could not be handed to the client."""
        info = self._client.publish(topic, payload, qos=qos, retain=retain, properties=properties)
        if qos > 0:
            self._track_publish(info.mid, topic)
        return info.rc == mqtt.MQTT_ERR_SUCCESS

    # --- the broker's answers: refusals become problems ---------------------------------

    def _track_publish(self, mid: int, topic: str) -> None:
        with self._track_lock:
            early = self._early_refusals.pop(mid, None)
            if early is None:
                self._publishing[mid] = topic
                while len(self._publishing) > TRACKED_PUBLISHES:  # lost on a dead link: forget
                    del self._publishing[next(iter(self._publishing))]
        if early is not None:
            self.problems.refused("publish", topic, early.value, early.getName())

    def _handle_puback(
        self, _client: mqtt.Client, _userdata: Any, mid: int, reason: ReasonCode, _props: Properties
    ) -> None:
        # Acknowledge the broker's PUBACK at once. Otherwise Linux delays that TCP ACK
        # (up to 40 ms) and Mosquitto's Nagle holds the next message to us behind it:
        # measured, a detector's frames arrived 40 ms late after each QoS 1 detection.
        if hasattr(socket, "TCP_QUICKACK"):  # Linux only
            self._set_socket_option(socket.TCP_QUICKACK)
        with self._track_lock:
            topic = self._publishing.pop(mid, None)
            if topic is None and reason.is_failure:
                # The PUBACK beat publish() back to its caller: _track_publish reports it.
                self._early_refusals[mid] = reason
                while len(self._early_refusals) > TRACKED_PUBLISHES:
                    del self._early_refusals[next(iter(self._early_refusals))]
        if topic is None:
            return
        if reason.is_failure:
            self.problems.refused("publish", topic, reason.value, reason.getName())
        else:
            self.problems.accepted("publish", topic)

    def _handle_suback(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        mid: int,
        reasons: list[ReasonCode],
        _props: Properties,
    ) -> None:
        with self._track_lock:
            topic_filter = self._subscribing.pop(mid, None)
        if topic_filter is None:
            return
        for reason in reasons:
            if reason.is_failure:
                self.problems.refused("subscribe", topic_filter, reason.value, reason.getName())
            else:
                self.problems.accepted("subscribe", topic_filter)

    def _handle_connect(
        self, client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Properties | None
    ) -> None:
        if reason.is_failure:
            _LOGGER.error("broker %s refused the connection: %s", self.broker.url, reason)
            return
        self.connect_count += 1
        self._attempts = 0  # the next loss starts the backoff afresh
        _LOGGER.info("connected to %s", self.broker.url)
        self._set_socket_option(socket.TCP_NODELAY)  # a new socket on every (re)connect
        for sub in self._subscriptions:
            # On paho's thread: its SUBACK cannot be handled before we record the mid.
            _rc, mid = client.subscribe(sub.subscribe_filter, qos=sub.qos)
            if mid is not None:
                with self._track_lock:
                    self._subscribing[mid] = sub.subscribe_filter
        self.connected.set()
        try:
            self.on_connected()
        except Exception:
            _LOGGER.exception("error announcing after connect")

    def _set_socket_option(self, option: int) -> None:
        """Latency tuning of paho's socket. TCP_NODELAY: a small message (a detection after a
        ~50 KB snapshot) must not wait for the ACK of the previous one's last segment, which
        Linux delays up to 40 ms: bench/ measured p99 latency 40 ms worse without it."""
        sock = self._client.socket()
        if isinstance(sock, socket.socket):  # ssl.SSLSocket too; not a websocket wrapper
            with contextlib.suppress(OSError):  # only latency is at stake
                sock.setsockopt(socket.IPPROTO_TCP, option, 1)

    def _handle_disconnect(
        self, _client: mqtt.Client, _userdata: Any, _flags: Any, reason: ReasonCode, _props: Properties | None
    ) -> None:
        self.connected.clear()
        delay = self._schedule_retry()
        if reason.is_failure:
            _LOGGER.warning(
                "lost connection to %s (%s); reconnecting in %.1f s", self.broker.url, reason, delay
            )

    def _handle_connect_fail(self, _client: mqtt.Client, _userdata: Any) -> None:
        delay = self._schedule_retry()
        _LOGGER.debug("could not reach %s; next try in %.1f s", self.broker.url, delay)

    def _schedule_retry(self) -> float:
        """Set paho's next reconnect wait (it waits right after the callback that calls this)."""
        self._attempts += 1
        delay = reconnect_delay(self._attempts)
        # paho sleeps with time.sleep: fractional seconds work although it annotates int.
        self._client.reconnect_delay_set(delay, delay)  # type: ignore[arg-type]
        return delay
