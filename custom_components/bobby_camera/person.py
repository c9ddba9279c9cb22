"""Person state of the cameras: detections in, debounced transitions out as events.

`debounce.PersonDebounce` decides (pure); this module runs its timers and makes each
transition visible: the `bobby_camera_person_detected` bus event and the camera's
person event entity.
"""

from __future__ import annotations

from datetime import datetime

from homeassistant.core import HomeAssistant, callback

from . import protocol
from .agent import Agent, people_in
from .alarm import Alarm
from .const import EVENT_PERSON_DETECTED
from .debounce import PersonTransition
from .devices import AgentDevices
from .signals import Signals


class PersonEvents:
    """Feeds each camera's debounce and reports its transitions."""

    def __init__(
        self, hass: HomeAssistant, *, base_topic: str, devices: AgentDevices, signals: Signals
    ) -> None:
        """No camera is watched until `async_watch`."""
        self.hass = hass
        self.base_topic = base_topic
        self._devices = devices
        self._signals = signals
        self._clears: dict[str, Alarm] = {}  # per agent key: when the person state may clear

    @callback
    def async_watch(self, agent: Agent) -> None:
        """Give the agent its clear timer."""
        self._clears[agent.key] = Alarm(self.hass, lambda: self._clear_timer(agent))

    @callback
    def async_forget(self, agent: Agent) -> None:
        """Stop the timer of an agent that is forgotten."""
        if (alarm := self._clears.pop(agent.key, None)) is not None:
            alarm.cancel()

    @callback
    def async_stop(self) -> None:
        """Cancel every timer (the hub stops)."""
        for alarm in self._clears.values():
            alarm.cancel()

    def on_detection(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        """The hub's `detection` channel handler."""
        agent.last_detection = detection
        if detection["score"] >= agent.person.threshold:  # what the person sensor counts
            agent.people = people_in(detection)
        for transition in agent.person.detection(detection["score"]):
            if transition is PersonTransition.DETECTED:
                self._detected(agent, detection)
            else:
                self._cleared(agent)
        self._clears[agent.key].set(agent.person.clear_at())

    @callback
    def async_restore(self, agent: Agent, last_hit: datetime) -> None:
        """Carry the person state over a restart: on while `clear_after` has not passed."""
        if agent.person.restore(last_hit):
            self._clears[agent.key].set(agent.person.clear_at())
            self._signals.refresh(agent)

    @callback
    def _clear_timer(self, agent: Agent) -> None:
        if agent.person.expire():
            self._cleared(agent)
            self._signals.refresh(agent)
        self._clears[agent.key].set(agent.person.clear_at())

    def _detected(self, agent: Agent, detection: protocol.DetectionPayload) -> None:
        data = {
            "camera": agent.agent_id,
            "name": agent.name,
            "score": detection["score"],
            "boxes": detection["boxes"],
            "detector": detection["detector"],
            "frame_time": detection["frame_time"],
            "snapshot": detection.get("snapshot", False),
            "snapshot_topic": protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, "snapshot"),
        }
        self._devices.async_fire(EVENT_PERSON_DETECTED, agent, data)
        self._signals.send(self._signals.person(agent), PersonTransition.DETECTED.value, data)

    def _cleared(self, agent: Agent) -> None:
        self._signals.send(self._signals.person(agent), PersonTransition.CLEARED.value, {})
