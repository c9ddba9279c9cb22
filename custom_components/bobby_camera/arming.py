"""Verified arming: the alarm panel's mode, what it takes to be armed, and who fails it.

Arming (arm_away, arm_home) records the mode (kept across restarts by `store.py`) and
enables every agent through `Control` — what the hub switch does. The panel shows
*armed* only while that is verified: at least one detector analyses, every online
detector is free of problems (a detector failing its self-test reports `blind`), and
every camera meant to watch is Watched (`watching.py`) — at least one. Until then it
shows *arming*, and once that lasts longer than the grace below, one repair issue names
each culprit. A person seen while armed makes it *triggered*; it goes back when the
person state clears. A person already in view when it becomes armed (the owner leaving)
does not trigger it until that camera's person state has cleared and someone is seen
again. Disarming while a person is present is refused unless the option allows it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Final

from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.exceptions import HomeAssistantError
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.event import async_call_later

from .agent import Agent
from .const import ARMED_MODES, DOMAIN, ISSUE_ARMING_UNVERIFIED, UNKNOWN_FRAME_INTERVAL, WATCH_SLACK
from .control import Control
from .problems import create_issue, delete_issue
from .signals import Signals
from .store import HubStore
from .watching import camera_facts

DISARMED: Final = "disarmed"
ARMING: Final = "arming"
TRIGGERED: Final = "triggered"
# Before the first report a camera's bound with defaults (2 × 10 s + 3 × 10 s + 1 s).
DEFAULT_BOUND: Final = 20 + 3 * UNKNOWN_FRAME_INTERVAL + WATCH_SLACK


def culprits(agents: Iterable[Agent], proven: Callable[[Agent], bool] = lambda _: True) -> list[str]:
    """What keeps the system from being verified, one line each; [] when it is. `proven`:
    whether a detector passed its latest self-test (one that has just come online has not)."""
    found: list[str] = []
    cameras = [a for a in agents if a.is_camera and camera_facts(a).meant]
    detectors = [a for a in agents if not a.is_camera and a.announced and a.online]
    for camera in sorted(cameras, key=lambda a: a.name):
        watch = camera.watch
        if watch is None or watch.watched is not True:
            why = watch.cause if watch is not None and watch.cause else "not yet proven"
            found.append(f"camera {camera.name} not watched ({why})")
    for detector in sorted(detectors, key=lambda a: a.name):
        if detector.problems:
            found.append(f"detector {detector.name}: {', '.join(detector.problems)}")
        elif detector.enabled is not False and not proven(detector):
            found.append(f"detector {detector.name}: self-test not passed yet")
    if not any(d.enabled is not False for d in detectors):
        found.append("no detector online")
    if not cameras:
        found.append("no camera enabled")
    return found


class Arming:
    """The alarm panel of one hub: its mode, its verified state and the culprits' repair issue."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        agents: Callable[[], Iterable[Agent]],
        control: Control,
        store: HubStore,
        signals: Signals,
        command_timeout: float,
        allow_disarm_with_person: bool,
        proven: Callable[[Agent], bool] = lambda _: True,
    ) -> None:
        """Nothing is judged until `async_start`."""
        self.hass = hass
        self._agents = agents
        self._control = control
        self._store = store
        self._signals = signals
        self._command_timeout = command_timeout
        self.allow_disarm_with_person = allow_disarm_with_person
        self._proven = proven
        self.state = DISARMED
        self.culprits: list[str] = []
        self._excused: set[str] = set()  # cameras with a person in view when it became armed
        self._unverified_timer: CALLBACK_TYPE | None = None
        self._issue_open = False
        self._unsubscribe: list[CALLBACK_TYPE] = []

    @property
    def mode(self) -> str | None:
        """The armed mode the owner chose (None: disarmed)."""
        return self._store.armed

    @callback
    def async_start(self) -> None:
        """Follow every change the hub reports (after the store is loaded)."""
        self._unsubscribe.append(async_dispatcher_connect(self.hass, self._signals.hub_update, self.update))
        self.update()

    @callback
    def async_stop(self) -> None:
        """Stop following and cancel the timer (the hub stops)."""
        while self._unsubscribe:
            self._unsubscribe.pop()()
        self._cancel_timer()

    # --- the owner's commands ------------------------------------------------------------

    async def async_arm(self, mode: str) -> None:
        """Record the mode and enable every agent; raises as the hub switch does when some fail."""
        assert mode in ARMED_MODES
        self._store.armed = mode
        self._store.async_schedule_save()
        self.update()
        await self._control.async_set_all_enabled(True)

    async def async_disarm(self) -> None:
        """Disarm and disable every agent; refused while a person is present unless allowed."""
        present = self.people_present()
        if present and self.mode is not None and not self.allow_disarm_with_person:
            raise HomeAssistantError(
                translation_domain=DOMAIN,
                translation_key="disarm_person_present",
                translation_placeholders={"names": ", ".join(present)},
            )
        self._store.armed = None
        self._store.async_schedule_save()
        self.update()
        await self._control.async_set_all_enabled(False)

    def people_present(self) -> list[str]:
        """The cameras whose person sensor is on."""
        return sorted(a.name for a in self._agents() if a.is_camera and a.person.on)

    # --- the state -------------------------------------------------------------------------

    @callback
    def update(self) -> None:
        """Judge the state from the facts now; tell the panel when it or its culprits change."""
        before = (self.state, self.culprits)
        self.culprits = culprits(list(self._agents()), self._proven) if self.mode is not None else []
        present = set(self.people_present())
        self._excused &= present  # once their person state clears, they are seen anew
        if self.mode is None:
            self.state = DISARMED
        elif (self.state == TRIGGERED and present) or (self.state in ARMED_MODES and present - self._excused):
            self.state = TRIGGERED
        elif not self.culprits:
            if self.state not in ARMED_MODES:
                # Becoming armed with someone in view (the owner leaving): not an intrusion
                # until that camera's person state clears and someone is seen again.
                self._excused = present
            self.state = self.mode
        else:
            self.state = ARMING
        self._watch_unverified()
        if (self.state, self.culprits) != before:
            self._signals.send(self._signals.arming)

    def _watch_unverified(self) -> None:
        """One repair issue naming the culprits once arming lasts longer than the grace."""
        if self.state != ARMING:
            self._cancel_timer()
            if self._issue_open:
                delete_issue(self.hass, ISSUE_ARMING_UNVERIFIED)
                self._issue_open = False
            return
        if self._issue_open:
            self._create_issue()  # the culprits may have changed
        elif self._unverified_timer is None:
            self._unverified_timer = async_call_later(self.hass, self.grace, self._grace_over)

    @property
    def grace(self) -> float:
        """Seconds in *arming* before the repair: the command timeout plus the longest camera bound."""
        bounds = [a.watch.bound for a in self._agents() if a.is_camera and a.watch is not None]
        return self._command_timeout + max(bounds, default=DEFAULT_BOUND)

    @callback
    def _grace_over(self, _now: object) -> None:
        self._unverified_timer = None
        if self.state == ARMING:
            self._issue_open = True
            self._create_issue()

    def _create_issue(self) -> None:
        create_issue(
            self.hass,
            ISSUE_ARMING_UNVERIFIED,
            ISSUE_ARMING_UNVERIFIED,
            {"culprits": "\n".join(f"- {line}" for line in self.culprits), "grace": f"{self.grace:g}"},
        )

    def _cancel_timer(self) -> None:
        if self._unverified_timer is not None:
            self._unverified_timer()
            self._unverified_timer = None
