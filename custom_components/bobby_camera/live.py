"""Live view: who watches which camera, the lease that keeps it streaming, the MJPEG stream.

While at least one viewer has a camera entity's MJPEG stream open (the dashboard's live
view, the more-info dialog), its camera agent holds a **lease** on a live rate: a `set`
with `live` and `lease` (docs/protocol.md, "Live view"), renewed every LIVE_RENEW_EVERY
seconds while viewers remain and ended with `live: 0` when the last one leaves. If Home
Assistant dies, nobody renews it and the agent goes back to its normal rate by itself
within the lease.

A lease is not desired state (control.py): it is not the owner's lasting choice, is not
stored, and must never be re-asserted after a restart or a reconnection — a camera that
streamed forever because of a viewer long gone is the failure it exists to prevent. It
uses the command and ack machinery of commands.py as it is (request id, `expires`, the
ack with the applied rate), and its renewal plays the part a re-assertion plays for
desired state: an agent that restarted mid-view is live again within one renewal. A
renewal without an ack is logged, not reported as the agent's problem: the viewer sees
the still picture, and a silent or offline agent is reported by monitoring anyway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

from aiohttp import web
from homeassistant.components import mqtt
from homeassistant.core import CALLBACK_TYPE, HomeAssistant, callback
from homeassistant.helpers.event import async_track_time_interval

from . import protocol
from .agent import Agent
from .commands import CommandError, Commands
from .const import LIVE_FALLBACK_EVERY, LIVE_LEASE, LIVE_RENEW_EVERY, LOGGER

BOUNDARY = "bobbyframe"
_DELIMITER = f"--{BOUNDARY}\r\n".encode()


@dataclass(eq=False)
class _Watch:
    """One watched camera: how many viewers, its newest live frame, its renewal timer."""

    viewers: int = 0
    frame: bytes | None = None
    new_frame: asyncio.Event = field(default_factory=asyncio.Event)
    renew: CALLBACK_TYPE | None = None
    opened: float = 0.0  # loop time the first viewer came
    first_frame_after: float | None = None  # seconds from then to the first live frame


def can_stream(agent: Agent) -> bool:
    """A camera agent that announced the `live` capability (older agents and dumb cameras do not)."""
    return agent.info is not None and protocol.LIVE in agent.info.get("capabilities", [])


def native_stream_url(agent: Agent, logins: dict[str, Any]) -> str | None:
    """The camera's RTSP URL with the owner's login for it, where the owner allows native video.

    The camera announces the URL without credentials (`stream_url` in `info`); the login
    lives only in the entry's options (docs/sources.md, "Native video in Home Assistant").
    """
    login = logins.get(agent.agent_id)
    url = agent.info.get("stream_url") if agent.info is not None else None
    if login is None or url is None:
        return None
    scheme, _, rest = url.partition("://")
    username, password = login.get("username") or "", login.get("password") or ""
    if not username:
        return url
    userinfo = quote(username, safe="") + (":" + quote(password, safe="") if password else "")
    return f"{scheme}://{userinfo}@{rest}"


class LiveViews:
    """The viewers of one hub's cameras and the leases they hold."""

    def __init__(
        self,
        hass: HomeAssistant,
        commands: Commands,
        *,
        base_topic: str,
        rate: float,
        background: Callable[[Coroutine[Any, Any, None], str], None],
    ) -> None:
        """`rate`: the live rate asked for (the agent caps it); `background` runs a task for the entry."""
        self.hass = hass
        self._commands = commands
        self._base_topic = base_topic
        self.rate = rate
        self._background = background
        self._watches: dict[str, _Watch] = {}
        self._stopped = False

    # --- what the hub hands over ----------------------------------------------------------

    @callback
    def on_live(self, agent: Agent, image: bytes) -> None:
        """A live frame: kept while someone watches (a late one after the last viewer left is dropped)."""
        watch = self._watches.get(agent.key)
        if watch is None or not watch.viewers:
            return
        if watch.first_frame_after is None:
            watch.first_frame_after = self.hass.loop.time() - watch.opened
            LOGGER.debug(
                "%s: first live frame %.2f s after the view opened", agent.key, watch.first_frame_after
            )
        watch.frame = image
        watch.new_frame.set()
        watch.new_frame = asyncio.Event()

    def frame(self, agent: Agent) -> bytes | None:
        """The newest live frame of a watched camera (None: nobody watches, or none came yet)."""
        watch = self._watches.get(agent.key)
        return watch.frame if watch is not None and watch.viewers else None

    def viewers(self, agent: Agent) -> int:
        """How many streams of this camera are open now."""
        watch = self._watches.get(agent.key)
        return watch.viewers if watch is not None else 0

    def first_frame_after(self, agent: Agent) -> float | None:
        """Seconds from the first viewer to the first live frame of the current view."""
        watch = self._watches.get(agent.key)
        return watch.first_frame_after if watch is not None else None

    # --- viewers and leases ---------------------------------------------------------------

    @callback
    def async_open(self, agent: Agent) -> _Watch:
        """One more viewer; the first one starts the lease and its renewal."""
        watch = self._watches.setdefault(agent.key, _Watch())
        watch.viewers += 1
        if watch.viewers == 1:
            watch.opened = self.hass.loop.time()
            watch.first_frame_after = None
            watch.renew = async_track_time_interval(
                self.hass,
                partial(self._renew, agent),
                timedelta(seconds=LIVE_RENEW_EVERY),
                name=f"bobby_camera live {agent.key}",
            )
            self._lease(agent)
        return watch

    @callback
    def async_close(self, agent: Agent) -> None:
        """One viewer fewer; the last one ends the lease at once (the agent would in LIVE_LEASE s)."""
        watch = self._watches.get(agent.key)
        if watch is None or not watch.viewers:
            return
        watch.viewers -= 1
        if watch.viewers:
            return
        self._cancel(watch)
        watch.frame = None
        if not self._stopped:
            self._send(agent, live=0)

    @staticmethod
    def _cancel(watch: _Watch) -> None:
        if watch.renew is not None:
            watch.renew()
            watch.renew = None

    @callback
    def _renew(self, agent: Agent, _now: datetime) -> None:
        self._lease(agent)

    @callback
    def _lease(self, agent: Agent) -> None:
        if agent.online and can_stream(agent):
            self._send(agent, live=self.rate, lease=LIVE_LEASE)

    def _send(self, agent: Agent, **fields: float) -> None:
        self._background(self._async_send(agent, fields), f"live {agent.key}")

    async def _async_send(self, agent: Agent, fields: dict[str, float]) -> None:
        try:
            state = await self._commands.async_send(agent, report_timeout=False, **fields)
        except CommandError as err:
            LOGGER.info("%s: live view command %s not applied: %s", agent.key, fields, err)
            return
        LOGGER.debug("%s: live view %s, the agent applied %s", agent.key, fields, state.get(protocol.LIVE))

    async def async_stop(self) -> None:
        """The entry unloads: end every lease now (no ack awaited), and the open streams with them."""
        self._stopped = True
        for key, watch in list(self._watches.items()):
            if not watch.viewers:
                continue
            self._cancel(watch)
            watch.new_frame.set()  # the streams see `_stopped` and end
            kind, _, agent_id = key.partition("_")
            await mqtt.async_publish(
                self.hass,
                protocol.build_topic(self._base_topic, kind, agent_id, "set"),
                protocol.encode_command("live-end-unload", live=0),
                qos=protocol.QOS["set"],
                retain=False,
            )

    # --- the MJPEG stream -----------------------------------------------------------------

    async def async_stream(
        self, request: web.Request, agent: Agent, still: Callable[[], bytes | None]
    ) -> web.StreamResponse:
        """multipart/x-mixed-replace of the live frames as they come, for as long as the client reads.

        Each part is followed at once by the next delimiter, so a browser shows a frame when it
        arrives, not when the next one does. Until the first live frame, and whenever none
        comes for LIVE_FALLBACK_EVERY s, the still picture is sent (the view is never blank,
        and a client that left is noticed on the next write).
        """
        response = web.StreamResponse()
        response.content_type = f"multipart/x-mixed-replace;boundary={BOUNDARY}"
        await response.prepare(request)
        watch = self.async_open(agent)
        try:
            # A viewer that left: a write to a closed connection (or the handler is cancelled).
            with suppress(ConnectionResetError):
                await response.write(_DELIMITER)
                image = still()
                while not self._stopped:
                    if image is not None:
                        await response.write(
                            b"Content-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n" % len(image)
                            + image
                            + b"\r\n"
                            + _DELIMITER
                        )
                    event = watch.new_frame
                    try:
                        async with asyncio.timeout(LIVE_FALLBACK_EVERY):
                            await event.wait()
                        image = watch.frame
                    except TimeoutError:
                        image = watch.frame or still()
        finally:
            self.async_close(agent)
        return response
