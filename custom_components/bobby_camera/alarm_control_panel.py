"""The alarm panel of the hub: verified arming (arming.py), disarmed / arming / armed / triggered."""

from __future__ import annotations

from typing import Any, override

from homeassistant.components.alarm_control_panel import AlarmControlPanelEntity
from homeassistant.components.alarm_control_panel.const import (
    AlarmControlPanelEntityFeature,
    AlarmControlPanelState,
)
from homeassistant.core import HomeAssistant, callback
from homeassistant.helpers.device_registry import DeviceInfo
from homeassistant.helpers.dispatcher import async_dispatcher_connect
from homeassistant.helpers.entity_platform import AddConfigEntryEntitiesCallback

from .const import DOMAIN
from .helpers import bobby_command
from .hub import BobbyConfigEntry, BobbyHub

PARALLEL_UPDATES = 0


def _timeout(entity: BobbyAlarmPanel, *_: Any) -> float:
    return entity.hub.command_timeout


async def async_setup_entry(
    hass: HomeAssistant, entry: BobbyConfigEntry, async_add_entities: AddConfigEntryEntitiesCallback
) -> None:
    """Add the hub's alarm panel."""
    async_add_entities([BobbyAlarmPanel(entry.runtime_data)])


class BobbyAlarmPanel(AlarmControlPanelEntity):
    """Arms and disarms every agent; *armed* only while every camera meant to watch is watched."""

    _attr_has_entity_name = True
    _attr_should_poll = False
    _attr_translation_key = "alarm"
    _attr_code_arm_required = False
    _attr_supported_features = (
        AlarmControlPanelEntityFeature.ARM_AWAY | AlarmControlPanelEntityFeature.ARM_HOME
    )

    def __init__(self, hub: BobbyHub) -> None:
        """Attach to the hub device."""
        self.hub = hub
        self._attr_unique_id = "hub_alarm"  # one hub entry per installation
        self._attr_device_info = DeviceInfo(identifiers={(DOMAIN, hub.entry.entry_id)})

    @override
    async def async_added_to_hass(self) -> None:
        """Refresh when the panel's state or its culprits change."""
        self.async_on_remove(
            async_dispatcher_connect(self.hass, self.hub.signals.arming, self._handle_update)
        )

    @callback
    def _handle_update(self) -> None:
        self.async_write_ha_state()

    @property
    @override
    def alarm_state(self) -> AlarmControlPanelState:
        """Disarmed, arming (not verified yet), armed away or home, or triggered."""
        return AlarmControlPanelState(self.hub.arming.state)

    @property
    @override
    def extra_state_attributes(self) -> dict[str, Any]:
        """What keeps it from being armed, one line each."""
        return {"culprits": list(self.hub.arming.culprits)}

    @bobby_command(_timeout)
    @override
    async def async_alarm_arm_away(self, code: str | None = None) -> None:
        """Arm away: enable every agent; armed once verified."""
        await self.hub.arming.async_arm(AlarmControlPanelState.ARMED_AWAY.value)

    @bobby_command(_timeout)
    @override
    async def async_alarm_arm_home(self, code: str | None = None) -> None:
        """Arm home: enable every agent; armed once verified."""
        await self.hub.arming.async_arm(AlarmControlPanelState.ARMED_HOME.value)

    @bobby_command(_timeout)
    @override
    async def async_alarm_disarm(self, code: str | None = None) -> None:
        """Disarm: disable every agent (refused while a person is present, unless allowed)."""
        await self.hub.arming.async_disarm()
