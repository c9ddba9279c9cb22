"""Commands to agents: publish a `set` with a request id, wait for the matching `ack`.

Only acknowledged state is ever shown (no optimistic switches): a command resolves with
the state the agent applied, or fails with one of the errors below.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from functools import partial
from typing import Any
from uuid import uuid4

from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_call_later
from homeassistant.util import dt as dt_util

from . import protocol
from .agent import Agent
from .const import LOGGER


class CommandError(Exception):
    """A command was not applied; subclasses say why."""

    def __init__(self, agent: Agent, detail: str = "") -> None:
        """Remember the agent and the detail for the translated message."""
        super().__init__(f"{agent.key}: {detail}" if detail else agent.key)
        self.agent = agent
        self.detail = detail


class CommandTimeoutError(CommandError):
    """No ack within the command timeout."""


class CommandRejectedError(CommandError):
    """The agent answered ok: false."""


class CommandNotAppliedError(CommandError):
    """The agent answered ok, but the state it sent with the ack lacks what was asked."""


class NotControllableError(CommandError):
    """The agent is a camera that only publishes frames: it takes no commands."""


class CommandToAllError(Exception):
    """A command to every agent left some of them without an ack."""

    def __init__(self, failed: list[Agent], total: int) -> None:
        """The agents that did not apply it, of `total` sent."""
        super().__init__(f"{len(failed)} of {total} agents did not apply the command")
        self.failed = failed
        self.total = total

    @property
    def names(self) -> str:
        """The names of the first five agents left behind, for a message."""
        names = sorted(agent.name for agent in self.failed)
        return ", ".join(names[:5]) + (", …" if len(names) > 5 else "")


class AckMatch(Enum):
    """What an ack answers."""

    ANSWERED = "answered"  # a command still waiting
    LATE = "late"  # a command that timed out: the agent listens again after all
    UNKNOWN = "unknown"  # none of ours (another client's, or long forgotten)


# Request ids of commands that timed out, kept so that their late ack is recognised.
_LATE_IDS_KEPT = 256


@dataclass(slots=True)
class _Pending:
    agent: Agent
    future: asyncio.Future[protocol.StatePayload]
    description: str
    report_timeout: bool
    cancel_timeout: CALLBACK_TYPE | None = None


class Commands:
    """The commands in flight for one hub."""

    def __init__(
        self,
        hass: HomeAssistant,
        *,
        base_topic: str,
        timeout: float,
        on_timeout: Callable[[Agent, str], None],
    ) -> None:
        """`on_timeout(agent, description)` runs when a command gets no ack in time."""
        self.hass = hass
        self.base_topic = base_topic
        self.timeout = timeout
        self._on_timeout = on_timeout
        self._pending: dict[str, _Pending] = {}
        self._timed_out: OrderedDict[str, Agent] = OrderedDict()

    async def async_send(
        self, agent: Agent, *, report_timeout: bool = True, **fields: Any
    ) -> protocol.StatePayload:
        """Send a command and wait for its ack; returns the state the agent applied.

        The command expires when Home Assistant gives up on it (agents that take `expires`
        then ignore it rather than apply it late). `report_timeout=False`: a timeout only
        fails the call, the caller reports it (a command to every agent, a re-assertion).
        """
        if not agent.announced:
            raise NotControllableError(agent)
        request_id = uuid4().hex[:16]
        description = ", ".join(f"{k}={v}" for k, v in fields.items())
        if agent.info is not None and protocol.EXPIRES in agent.info.get("capabilities", []):
            fields = {**fields, "expires": round(dt_util.utcnow().timestamp() + self.timeout, 3)}
        payload = protocol.encode_command(request_id, **fields)
        protocol.check_command(agent.kind, protocol.decode_json(payload))
        pending = self._pending[request_id] = _Pending(
            agent, self.hass.loop.create_future(), description, report_timeout
        )
        pending.cancel_timeout = async_call_later(
            self.hass, self.timeout, partial(self._async_timed_out, request_id)
        )
        try:
            await mqtt.async_publish(
                self.hass,
                protocol.build_topic(self.base_topic, agent.kind, agent.agent_id, "set"),
                payload,
                qos=protocol.QOS["set"],
                retain=False,
            )
            return await pending.future
        finally:
            self._pending.pop(request_id, None)
            if pending.cancel_timeout is not None:
                pending.cancel_timeout()

    @callback
    def resolve(self, agent: Agent, ack: protocol.AckPayload) -> AckMatch:
        """Answer the command this ack is for, and say which kind of command that was."""
        request_id = ack["id"]
        if request_id is not None and self._timed_out.get(request_id) is agent:
            del self._timed_out[request_id]
            LOGGER.info("%s answered a command after the timeout (%s)", agent.key, ack.get("code", "ok"))
            return AckMatch.LATE
        pending = self._pending.get(request_id) if request_id is not None else None
        if pending is None or pending.agent is not agent:
            LOGGER.debug("Ack from %s answers no command of ours", agent.key)
            return AckMatch.UNKNOWN
        if not pending.future.done():
            if ack["ok"]:
                pending.future.set_result(ack["state"])
            else:
                pending.future.set_exception(CommandRejectedError(agent, ack.get("error", "")))
        return AckMatch.ANSWERED

    @callback
    def _async_timed_out(self, request_id: str, _now: datetime) -> None:
        if (pending := self._pending.pop(request_id, None)) is None:
            return
        pending.cancel_timeout = None
        self._timed_out[request_id] = pending.agent
        while len(self._timed_out) > _LATE_IDS_KEPT:
            self._timed_out.popitem(last=False)
        if pending.report_timeout:
            self._on_timeout(pending.agent, pending.description)
        if not pending.future.done():
            pending.future.set_exception(CommandTimeoutError(pending.agent, pending.description))

    @callback
    def async_cancel(self, agent: Agent | None = None) -> None:
        """Fail the commands in flight to this agent (None: to every agent), timers included.

        For a hub that stops or an agent that is forgotten: their timers must not report
        a problem later.
        """
        for request_id, late in list(self._timed_out.items()):
            if agent is None or late is agent:
                del self._timed_out[request_id]
        for request_id, pending in list(self._pending.items()):
            if agent is not None and pending.agent is not agent:
                continue
            del self._pending[request_id]
            if pending.cancel_timeout is not None:
                pending.cancel_timeout()
                pending.cancel_timeout = None
            if not pending.future.done():
                pending.future.set_exception(CommandTimeoutError(pending.agent, pending.description))
