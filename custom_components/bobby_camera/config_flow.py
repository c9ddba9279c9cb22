"""Config flows (user, MQTT discovery, reconfigure) and the options flow."""

from __future__ import annotations

from typing import Any, cast

import voluptuous as vol
from homeassistant.config_entries import ConfigEntry, ConfigFlow, ConfigFlowResult, OptionsFlow
from homeassistant.core import callback
from homeassistant.helpers import selector
from homeassistant.helpers.service_info.mqtt import MqttServiceInfo

from . import protocol
from .compat import OptionsFlowBase
from .const import (
    CONF_ALLOW,
    CONF_ALLOW_DISARM_WITH_PERSON,
    CONF_BASE_TOPIC,
    CONF_CAMERA,
    CONF_CLEAR_AFTER,
    CONF_COMMAND_TIMEOUT,
    CONF_LIVE_FPS,
    CONF_MAX_AGENTS,
    CONF_MAX_DISK_MB,
    CONF_NATIVE_VIDEO,
    CONF_OFFLINE_GRACE,
    CONF_RETENTION_DAYS,
    CONF_SELFTEST_INTERVAL,
    CONF_THRESHOLD,
    CONF_TRIGGER_AFTER,
    DEFAULT_BASE_TOPIC,
    DEFAULT_OPTIONS,
    DOMAIN,
    LOGGER,
)

MQTT_DOMAIN = "mqtt"


def _seconds(lo: float, hi: float) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=lo, max=hi, step=1, unit_of_measurement="s", mode=selector.NumberSelectorMode.BOX
        )
    )


def _box(lo: float, hi: float, unit: str) -> selector.NumberSelector:
    return selector.NumberSelector(
        selector.NumberSelectorConfig(
            min=lo, max=hi, step=1, unit_of_measurement=unit, mode=selector.NumberSelectorMode.BOX
        )
    )


def _base_topic_schema(default: str) -> vol.Schema:
    return vol.Schema({vol.Required(CONF_BASE_TOPIC, default=default): selector.TextSelector()})


def _options_schema(options: dict[str, Any]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Required(CONF_THRESHOLD, default=options[CONF_THRESHOLD]): selector.NumberSelector(
                selector.NumberSelectorConfig(
                    min=0.05, max=1.0, step=0.05, mode=selector.NumberSelectorMode.SLIDER
                )
            ),
            vol.Required(CONF_TRIGGER_AFTER, default=options[CONF_TRIGGER_AFTER]): _seconds(0, 600),
            vol.Required(CONF_CLEAR_AFTER, default=options[CONF_CLEAR_AFTER]): _seconds(1, 3600),
            vol.Required(CONF_COMMAND_TIMEOUT, default=options[CONF_COMMAND_TIMEOUT]): _seconds(1, 120),
            vol.Required(CONF_RETENTION_DAYS, default=options[CONF_RETENTION_DAYS]): _box(1, 3650, "d"),
            vol.Required(CONF_MAX_DISK_MB, default=options[CONF_MAX_DISK_MB]): _box(1, 10_000_000, "MB"),
            vol.Required(CONF_OFFLINE_GRACE, default=options[CONF_OFFLINE_GRACE]): _seconds(0, 3600),
            vol.Required(CONF_MAX_AGENTS, default=options[CONF_MAX_AGENTS]): selector.NumberSelector(
                selector.NumberSelectorConfig(min=1, max=1024, step=1, mode=selector.NumberSelectorMode.BOX)
            ),
            vol.Required(CONF_LIVE_FPS, default=options[CONF_LIVE_FPS]): _box(1, 30, "fps"),
            vol.Required(
                CONF_ALLOW_DISARM_WITH_PERSON, default=options[CONF_ALLOW_DISARM_WITH_PERSON]
            ): selector.BooleanSelector(),
            # Every 10 s at most: a test costs a detector one frame's analysis.
            vol.Required(CONF_SELFTEST_INTERVAL, default=options[CONF_SELFTEST_INTERVAL]): _seconds(10, 3600),
        }
    )


def _check_base_topic(user_input: dict[str, Any]) -> dict[str, str]:
    user_input[CONF_BASE_TOPIC] = str(user_input[CONF_BASE_TOPIC]).strip()
    if not protocol.is_valid_base_topic(user_input[CONF_BASE_TOPIC]):
        return {CONF_BASE_TOPIC: "invalid_base_topic"}
    return {}


class BobbyCameraConfigFlow(ConfigFlow, domain=DOMAIN):
    """One hub entry on top of Home Assistant's MQTT integration."""

    VERSION = 1
    # 1.2: the base topic moved from the options to the entry's data (__init__ migrates).
    MINOR_VERSION = 2

    def __init__(self) -> None:
        """Nothing discovered yet."""
        self._discovered_base_topic: str | None = None
        self._discovered_agent: dict[str, str] = {}

    def _mqtt_missing(self) -> bool:
        return not any(
            entry.disabled_by is None for entry in self.hass.config_entries.async_entries(MQTT_DOMAIN)
        )

    async def async_step_user(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Ask for the base topic; abort when MQTT is not set up."""
        if self._mqtt_missing():
            return self.async_abort(reason="mqtt_not_configured")
        # A discovered flow waiting under "Discovered" must not block setting up by hand
        # (e.g. on another base topic): HA aborts the discovered one when this one finishes.
        await self.async_set_unique_id(DOMAIN, raise_on_progress=False)
        self._abort_if_unique_id_configured()
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := _check_base_topic(user_input)):
            return self._create_hub(user_input[CONF_BASE_TOPIC])
        return self.async_show_form(
            step_id="user",
            data_schema=self.add_suggested_values_to_schema(
                _base_topic_schema(DEFAULT_BASE_TOPIC), user_input
            ),
            errors=errors,
        )

    async def async_step_mqtt(self, discovery_info: MqttServiceInfo) -> ConfigFlowResult:
        """An agent announced itself on a manifest topic (`bobby/camera/+/info`, ...).

        Runs only while no hub entry exists: with an entry (or an ignored discovery), HA's
        flow manager aborts before this step (`single_config_entry`), and the hub's own
        subscriptions see every agent. The payload is from the bus, so it is checked by the
        protocol module like any other message before anything of it is shown.
        """
        await self.async_set_unique_id(DOMAIN)
        self._abort_if_unique_id_configured()
        try:
            topic, info = protocol.parse_message(discovery_info.topic, discovery_info.payload)
        except protocol.ProtocolError as err:
            # The reason only, never the payload (it is from anyone on the broker).
            LOGGER.debug("Not offering Bobby Camera for %s: %s", discovery_info.topic, err)
            return self.async_abort(reason="invalid_discovery_info")
        if topic.channel != "info":  # the manifest subscribes to info topics only
            return self.async_abort(reason="invalid_discovery_info")
        self._discovered_base_topic = topic.base
        # The name is plain text in the "Discovered" card; the dialog's markdown shows only
        # the id, whose characters cannot form a link, so no announcement can plant one.
        self.context["title_placeholders"] = {
            "name": cast(protocol.InfoPayload, info).get("name") or topic.agent_id,
            "base_topic": topic.base,
        }
        self._discovered_agent = {"kind": topic.kind, "agent_id": topic.agent_id, "base_topic": topic.base}
        return await self.async_step_discovery_confirm()

    async def async_step_discovery_confirm(
        self, user_input: dict[str, Any] | None = None
    ) -> ConfigFlowResult:
        """Ask before adding the hub an agent's announcement offered."""
        assert self._discovered_base_topic is not None
        if user_input is not None:
            return self._create_hub(self._discovered_base_topic)
        self._set_confirm_only()
        return self.async_show_form(
            step_id="discovery_confirm",
            description_placeholders=self._discovered_agent,
        )

    def _create_hub(self, base_topic: str) -> ConfigFlowResult:
        return self.async_create_entry(
            title="Bobby Camera", data={CONF_BASE_TOPIC: base_topic}, options=dict(DEFAULT_OPTIONS)
        )

    async def async_step_reconfigure(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Change the base topic of the hub."""
        if self._mqtt_missing():
            return self.async_abort(reason="mqtt_not_configured")
        entry = self._get_reconfigure_entry()
        errors: dict[str, str] = {}
        if user_input is not None and not (errors := _check_base_topic(user_input)):
            return self.async_update_reload_and_abort(
                entry, data_updates={CONF_BASE_TOPIC: user_input[CONF_BASE_TOPIC]}
            )
        return self.async_show_form(
            step_id="reconfigure",
            data_schema=_base_topic_schema(str(entry.data[CONF_BASE_TOPIC])),
            errors=errors,
        )

    @staticmethod
    @callback
    def async_get_options_flow(config_entry: ConfigEntry) -> OptionsFlow:
        """Return the options flow."""
        return BobbyCameraOptionsFlow()


def _native_video_schema(cameras: dict[str, str]) -> vol.Schema:
    return vol.Schema(
        {
            vol.Optional(CONF_CAMERA): selector.SelectSelector(
                selector.SelectSelectorConfig(
                    options=[selector.SelectOptionDict(value=k, label=v) for k, v in sorted(cameras.items())],
                    mode=selector.SelectSelectorMode.DROPDOWN,
                )
            ),
            vol.Required(CONF_ALLOW, default=False): selector.BooleanSelector(),
            vol.Optional("username"): selector.TextSelector(),
            vol.Optional("password"): selector.TextSelector(
                selector.TextSelectorConfig(type=selector.TextSelectorType.PASSWORD)
            ),
        }
    )


class BobbyCameraOptionsFlow(OptionsFlowBase):
    """Person threshold and timing, command timeout, clip retention (the base topic is reconfigured),
    then, where a camera offers its RTSP stream, whether Home Assistant may play it."""

    def __init__(self) -> None:
        """Nothing entered yet."""
        self._options: dict[str, Any] = {}

    def _stream_cameras(self) -> dict[str, str]:
        """Camera id → name, of the cameras that announced a `stream_url`."""
        hub = getattr(self.config_entry, "runtime_data", None)
        agents = hub.agents.values() if hub is not None else ()
        return {
            a.agent_id: a.name
            for a in agents
            if a.is_camera and a.info is not None and a.info.get("stream_url")
        }

    async def async_step_init(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """Show and store the options."""
        native = dict(self.config_entry.options.get(CONF_NATIVE_VIDEO, {}))
        if user_input is not None:
            self._options = {**user_input, CONF_NATIVE_VIDEO: native}
            if self._stream_cameras():
                return await self.async_step_native_video()
            return self.async_create_entry(data=self._options)
        current = {**DEFAULT_OPTIONS, **self.config_entry.options}
        return self.async_show_form(step_id="init", data_schema=_options_schema(current))

    async def async_step_native_video(self, user_input: dict[str, Any] | None = None) -> ConfigFlowResult:
        """One camera at a time: may Home Assistant play its RTSP stream, with which login.

        The login is kept in the entry's options (redacted from diagnostics), never sent on
        MQTT; the camera announces its stream's URL without one.
        """
        cameras = self._stream_cameras()
        errors: dict[str, str] = {}
        if user_input is not None:
            camera = user_input.get(CONF_CAMERA)
            native: dict[str, Any] = dict(self._options[CONF_NATIVE_VIDEO])
            if camera is None and user_input[CONF_ALLOW]:
                errors[CONF_CAMERA] = "choose_camera"
            else:
                if camera is not None and user_input[CONF_ALLOW]:
                    native[camera] = {
                        "username": user_input.get("username", ""),
                        "password": user_input.get("password", ""),
                    }
                elif camera is not None:
                    native.pop(camera, None)
                return self.async_create_entry(data={**self._options, CONF_NATIVE_VIDEO: native})
        allowed = ", ".join(sorted(cameras.get(c, c) for c in self._options[CONF_NATIVE_VIDEO])) or "-"
        return self.async_show_form(
            step_id="native_video",
            data_schema=_native_video_schema(cameras),
            errors=errors,
            description_placeholders={"allowed": allowed},
        )
