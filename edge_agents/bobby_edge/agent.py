"""What every agent does the same way: announce, obey `set`, answer on `ack`, heartbeat,
and remember its last commanded state across restarts.

A concrete agent (camera, detector) subclasses `Agent` and supplies its info, its
configured settings, its state, how to apply a validated command, its stats and its main
loop. It starts from `self.initial` (the restored state). This module owns the topics every
agent shares (status, info, state, set, ack, stats); each agent publishes or subscribes its
own (frames, detections, chunks) through the same `MqttLink` (`self.mqtt`). It never deals with frames.
"""

from __future__ import annotations

import json
import logging
import signal
import socket
import threading
import time
from abc import ABC, abstractmethod
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

import paho.mqtt.client as mqtt

from . import __version__, protocol
from .config import AgentConfig
from .errors import CommandError
from .logthrottle import BAD_INPUT_EVERY, LogThrottle
from .mqtt import MqttLink, client_id_for
from .refusals import STATE_NOT_SAVED, Problems
from .state_store import StateStore

_LOGGER = logging.getLogger(__name__)


def cpu_temperature() -> float | None:
    """The SoC temperature on a Pi (and most Linux boards), or None."""
    try:
        return round(int(Path("/sys/class/thermal/thermal_zone0/temp").read_text()) / 1000, 1)
    except (OSError, ValueError):
        return None


class Agent(ABC):
    kind: ClassVar[str]

    def __init__(self, config: AgentConfig) -> None:
        self.config = config
        self.state_store = StateStore(config.state_dir, self.kind, config.id)
        self.configured = {"enabled": config.enabled, **self.configured_settings()}
        # What the owner last commanded (saved on disk), else the configuration.
        self.initial = self.state_store.restore(self.configured)
        self.enabled: bool = self.initial["enabled"]
        self.started = time.monotonic()
        self.stop_event = threading.Event()
        self._stats_now = threading.Event()  # report_now(): the next stats go out at once
        self.lock = threading.Lock()  # guards settings changed by commands
        self._refusals_log = LogThrottle(_LOGGER, BAD_INPUT_EVERY)  # keyed by the ack's code
        if config.broker.username and config.broker.username != config.id:
            _LOGGER.info(
                "broker login %r is not this agent's id %r: fine with a shared login, but the "
                "shipped ACL (docs/mosquitto/acl) expects one login per agent named like its id",
                config.broker.username,
                config.id,
            )
        # The agent's problems (docs/protocol.md, "problems"): its own, and the broker's refusals.
        self.problems = Problems(config.broker.username)
        self.mqtt = MqttLink(
            config.broker,
            client_id=client_id_for(config.broker, self.kind, config.id),
            will=(self.topic("status"), protocol.OFFLINE),
            problems=self.problems,
        )
        self.mqtt.on_connected = self.announce
        self.mqtt.subscribe(self.topic("set"), self._on_set, qos=1)

    # --- what a concrete agent supplies ------------------------------------------

    @abstractmethod
    def info(self) -> dict[str, Any]:
        """Agent-specific info keys (model, resolution, capabilities)."""

    @abstractmethod
    def configured_settings(self) -> dict[str, Any]:
        """The settings (besides `enabled`) as configured, from `self.config`."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """Current settings besides `enabled`."""

    @abstractmethod
    def apply(self, command: dict[str, Any]) -> None:
        """Apply a validated command's settings (not `enabled`); raise CommandError to refuse."""

    @abstractmethod
    def stats(self, interval: float) -> dict[str, Any]:
        """Counters and rates since the last call (`interval` seconds ago)."""

    @abstractmethod
    def work(self) -> None:
        """The main loop; returns when `stop_event` is set."""

    def close(self) -> None:  # noqa: B027 - an optional hook, not abstract
        """Release the camera, model or other resources after the main loop ends."""

    # --- MQTT conventions ----------------------------------------------------------

    def topic(self, channel: str, agent_id: str | None = None, kind: str | None = None) -> str:
        return protocol.build_topic(
            self.config.base_topic, kind or self.kind, agent_id or self.config.id, channel
        )

    def publish(self, channel: str, payload: bytes | str | dict[str, Any], **kwargs: Any) -> bool:
        """Publish on one of this agent's channels with the contract's QoS and retain flag."""
        data = protocol.encode(payload) if isinstance(payload, dict) else payload
        return self.mqtt.publish(
            self.topic(channel),
            data,
            qos=protocol.QOS[channel],
            retain=channel in protocol.RETAINED,
            **kwargs,
        )

    def full_state(self) -> dict[str, Any]:
        with self.lock:
            return {"enabled": self.enabled, **self.state()}

    def announce(self) -> None:
        """Publish the retained topics; called on every (re)connect."""
        self.publish("status", protocol.ONLINE)
        self.publish(
            "info",
            {
                "kind": self.kind,
                "id": self.config.id,
                "name": self.config.name or self.config.id,
                "version": __version__,
                "hostname": socket.gethostname(),
                "stats_interval": self.config.stats_interval,
                **self.info(),
            },
        )
        self.publish("state", self.full_state())

    def _ack(self, request_id: str | None) -> None:
        self.publish(
            "ack",
            {"id": request_id, "ok": True, "state": {"v": protocol.SCHEMA_VERSION, **self.full_state()}},
        )

    def _refuse(self, message: mqtt.MQTTMessage, request_id: str | None, error: str, code: str) -> None:
        """Answer a command with `ok: false`; the log names topic, size and reason, never the payload."""
        self._refusals_log.warning(
            "refused command %s on %.200s (%d bytes, %s): %s",
            request_id,
            message.topic,
            len(message.payload),
            code,
            error,
            key=code,
        )
        self.publish("ack", {"id": request_id, "ok": False, "code": code, "error": error})

    def _on_set(self, message: mqtt.MQTTMessage) -> None:
        request_id: str | None = None
        arrived = time.time()
        try:
            command = protocol.decode_json(bytes(message.payload))
            raw_id = command.get("id")
            # Echo only an id HA can read back: a hostile one would make the ack invalid too.
            request_id = raw_id if protocol.is_valid_request_id(raw_id) else None
            protocol.check_command(self.kind, command)
        except protocol.ProtocolError as err:
            self._refuse(message, request_id, str(err), protocol.ACK_INVALID)
            return
        if protocol.command_expired(command, arrived):
            # Sent by someone who has long given up on it (HA reported a timeout): applying
            # it now would undo whatever was decided since. HA re-asserts the desired state.
            self._refuse(
                message,
                request_id,
                f"stale command: it expired at {command['expires']:.3f} and arrived at {arrived:.3f} "
                "(this agent's clock); not applied. If fresh commands are called stale, sync the "
                "clocks (NTP)",
                protocol.ACK_STALE,
            )
            return
        try:
            with self.lock:
                self.apply(command)
                if "enabled" in command:
                    self.enabled = command["enabled"]
                state = {"enabled": self.enabled, **self.state()}
        except CommandError as err:
            self._refuse(message, request_id, str(err), protocol.ACK_REFUSED)
            return
        except Exception:  # a bug, not the sender's fault: still answered
            _LOGGER.exception("applying command %s failed", request_id)
            self._refuse(
                message, request_id, "the agent failed to apply it (see its log)", protocol.ACK_REFUSED
            )
            return
        # A live-view renewal comes every few seconds while someone watches: not worth a line each.
        renewal = set(command) <= {"v", "id", "expires", protocol.LIVE, "lease"}
        _LOGGER.log(
            logging.DEBUG if renewal else logging.INFO,
            "applied command %s: %s",
            request_id,
            json.dumps(command),
        )
        if set(command) & set(protocol.PERSISTED_BY_KIND[self.kind]):
            self._save(state)
        # State first, then the ack: whoever sees the ack already has the new state.
        self.publish("state", state)
        self._ack(request_id)

    def _save(self, state: dict[str, Any]) -> None:
        saved = self.state_store.save(state, self.configured)
        self.problems.set(STATE_NOT_SAVED, not saved, self.state_store.save_error or "")

    # --- lifecycle -------------------------------------------------------------------

    def report_now(self) -> None:
        """Publish the stats now, not at the end of the interval: a problem began or ended."""
        self._stats_now.set()

    def _heartbeat(self) -> None:
        last = time.monotonic()
        while not self.stop_event.is_set():
            # An early report starts a new interval: stats never come further apart than one.
            self._stats_now.wait(self.config.stats_interval)
            self._stats_now.clear()
            if self.stop_event.is_set():
                break
            now = time.monotonic()
            try:
                payload = {
                    "uptime": round(now - self.started, 1),
                    "cpu_temperature": cpu_temperature(),
                    **self.stats(now - last),
                    "problems": self.problems.report(),
                }
            except Exception:
                _LOGGER.exception("could not gather stats")
                continue
            last = now
            self.publish("stats", payload)

    def request_stop(self, signum: int | None = None, _frame: FrameType | None = None) -> None:
        if signum is not None:
            _LOGGER.info("received %s, shutting down", signal.Signals(signum).name)
        self.stop_event.set()
        self._stats_now.set()  # the heartbeat ends at once

    def install_signal_handlers(self) -> None:
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)

    def start(self) -> None:
        self.mqtt.start()
        threading.Thread(target=self._heartbeat, name=f"{self.kind}-heartbeat", daemon=True).start()

    def run(self) -> None:
        """Run until SIGTERM/SIGINT (or `request_stop()`), then shut down cleanly."""
        self.start()
        try:
            self.work()
        finally:
            self.shutdown()

    def shutdown(self) -> None:
        self.stop_event.set()
        try:
            self.close()
        finally:
            self.mqtt.stop(last_words=(self.topic("status"), protocol.OFFLINE))
            _LOGGER.info("%s %s stopped", self.kind, self.config.id)
