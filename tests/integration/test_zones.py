"""Zones, masks and objects of a camera (issue 24, parts 4 and 5), set with the
`bobby_camera.set_zones` action: zone sensors decided where a person stands, the event's
`zones` and `label`, objects with their own sensors, masks and objects commanded to the
camera agent, polygons that are not ones refused with a translated error."""

from __future__ import annotations

import asyncio
import io
import json
from datetime import timedelta
from typing import Any

import pytest
from freezegun.api import FrozenDateTimeFactory
from homeassistant.core import Event, HomeAssistant
from homeassistant.exceptions import ServiceValidationError
from homeassistant.helpers import entity_registry as er
from PIL import Image
from pytest_homeassistant_custom_component.common import MockConfigEntry, async_fire_time_changed
from pytest_homeassistant_custom_component.typing import MqttMockHAClient

from custom_components.bobby_camera import zones as zones_module
from custom_components.bobby_camera.const import DOMAIN, EVENT_OBJECT_DETECTED, EVENT_PERSON_DETECTED

from .common import announce, detection, device, fire, payload

CAPABLE = ["fps", "preview", "expires", "masks", "objects"]
BACK_DOOR = [[0.5, 0.3], [1.0, 0.3], [1.0, 1.0], [0.5, 1.0]]
PAVEMENT = [[0.0, 0.3], [0.5, 0.3], [0.5, 1.0], [0.0, 1.0]]
MASK = [[0.0, 0.0], [0.3, 0.0], [0.3, 0.2], [0.0, 0.2]]


@pytest.fixture
async def porch(hass: HomeAssistant, init_integration: MockConfigEntry) -> str:
    """The device id of camera agent `porch`, announced with the masks capability."""
    announce(hass, "camera_porch")
    fire(hass, "bobby/camera/porch/info", payload("camera_porch", "info", capabilities=CAPABLE))
    await hass.async_block_till_done()
    return str(device(hass, init_integration.entry_id, "camera_porch").id)


async def _set(hass: HomeAssistant, device_id: str, **data: Any) -> None:
    await hass.services.async_call(DOMAIN, "set_zones", {"device_id": device_id, **data}, blocking=True)


async def _set_answered(
    hass: HomeAssistant, mqtt_mock: MqttMockHAClient, device_id: str, **data: Any
) -> dict[str, Any]:
    """set_zones with masks or objects: the command sent, answered by the camera's ack."""
    call = hass.async_create_background_task(_set(hass, device_id, **data), "set_zones")
    for _ in range(20):
        await asyncio.sleep(0)
    sent = mqtt_mock.async_publish.call_args_list[-1]
    assert sent.args[0] == "bobby/camera/porch/set"
    command = json.loads(sent.args[1])
    state = {"v": 1, "enabled": True, "fps": 2.0}
    state |= {k: command[k] for k in ("masks", "objects") if k in command}
    fire(hass, "bobby/camera/porch/ack", {"v": 1, "id": command["id"], "ok": True, "state": state})
    fire(hass, "bobby/camera/porch/state", state)
    await call
    return command


def _person(x: float, bottom: float, **box: Any) -> dict[str, Any]:
    """A person box standing at (x, bottom), labelled as a new detector sends it."""
    return {"score": 0.9, "box": [x - 0.1, max(0.0, bottom - 0.5), x + 0.1, bottom], "label": "person", **box}


async def test_a_person_turns_on_only_the_zone_she_stands_in(
    hass: HomeAssistant, porch: str, entity_registry: er.EntityRegistry
) -> None:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_PERSON_DETECTED, events.append)
    await _set(hass, porch, zones={"Back door": BACK_DOOR, "Pavement": PAVEMENT})
    await hass.async_block_till_done()
    back, pavement = "binary_sensor.porch_person_in_back_door", "binary_sensor.porch_person_in_pavement"
    assert hass.states.get(back).state == "off"
    assert hass.states.get(pavement).state == "off"
    assert hass.states.get(back).attributes["device_class"] == "occupancy"

    # Her head reaches over the pavement; her feet are at the back door: the back door only.
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[_person(0.55, 0.95)], person_count=1))
    await hass.async_block_till_done()
    assert hass.states.get(back).state == "on"
    assert hass.states.get(pavement).state == "off"
    assert hass.states.get("binary_sensor.porch_person").state == "on"
    [event] = events
    assert event.data["zones"] == ["Back door"]
    assert event.data["label"] == "person"

    # The zone's own name in the entity: renaming by removing one and adding another.
    await _set(hass, porch, zones={"Pavement": PAVEMENT})
    await hass.async_block_till_done()
    assert entity_registry.async_get(back) is None
    assert hass.states.get(pavement) is not None
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[_person(0.25, 0.95)], person_count=1))
    await hass.async_block_till_done()
    assert hass.states.get(pavement).state == "on"
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert set(hub.agents["camera_porch"].presence) == {"zone:Pavement"}  # the back door's is gone

    # Zones alone (no command to the camera) are kept over a reload too.
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    assert entry.runtime_data.agents["camera_porch"].desired.zones == {"Pavement": PAVEMENT}


async def test_a_person_outside_every_zone_has_an_empty_zones_list(hass: HomeAssistant, porch: str) -> None:
    events: list[Event] = []
    hass.bus.async_listen(EVENT_PERSON_DETECTED, events.append)
    await _set(hass, porch, zones={"Back door": BACK_DOOR})
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[_person(0.2, 0.25)]))
    await hass.async_block_till_done()
    assert events[0].data["zones"] == []
    assert hass.states.get("binary_sensor.porch_person_in_back_door").state == "off"


async def test_an_older_detector_without_labels_still_counts_as_person(
    hass: HomeAssistant, porch: str
) -> None:
    await _set(hass, porch, zones={"Back door": BACK_DOOR})
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[{"score": 0.9, "box": [0.6, 0.4, 0.8, 0.9]}]))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_person_in_back_door").state == "on"


async def test_objects_picked_get_sensors_events_and_are_sent_to_the_camera(
    hass: HomeAssistant, porch: str, mqtt_mock: MqttMockHAClient
) -> None:
    objects: list[Event] = []
    people: list[Event] = []
    hass.bus.async_listen(EVENT_OBJECT_DETECTED, objects.append)
    hass.bus.async_listen(EVENT_PERSON_DETECTED, people.append)
    command = await _set_answered(
        hass, mqtt_mock, porch, objects=["person", "car"], masks=[MASK], zones={"Drive": PAVEMENT}
    )
    assert command["objects"] == ["person", "car"]
    assert command["masks"] == [MASK]
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_car").state == "off"
    assert hass.states.get("sensor.porch_car_count").state == "0"
    assert hass.states.get("binary_sensor.porch_dog") is None  # not picked

    car = {"score": 0.8, "box": [0.1, 0.5, 0.45, 0.9], "label": "car"}
    fire(hass, "bobby/camera/porch/detection", detection(score=0.8, boxes=[car, dict(car)], person_count=0))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_car").state == "on"
    assert hass.states.get("sensor.porch_car_count").state == "2"
    assert hass.states.get("binary_sensor.porch_person").state == "off"  # a car is not a person
    assert people == []
    [event] = objects
    assert event.data["label"] == "car"
    assert event.data["zones"] == ["Drive"]
    assert event.data["count"] == 2

    # Desired: the camera's state shows them, nothing is re-asserted; kept over a reload.
    hub = hass.config_entries.async_entries(DOMAIN)[0].runtime_data
    assert hub.agents["camera_porch"].problems == ()
    entry = hass.config_entries.async_entries(DOMAIN)[0]
    assert await hass.config_entries.async_reload(entry.entry_id)
    await hass.async_block_till_done()
    desired = entry.runtime_data.agents["camera_porch"].desired
    assert desired.masks == [MASK]
    assert desired.objects == ["person", "car"]
    assert desired.zones == {"Drive": PAVEMENT}

    # Picked no more: its sensors go.
    await _set_answered(hass, mqtt_mock, porch, objects=["person"])
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_car") is None
    assert hass.states.get("sensor.porch_car_count") is None


@pytest.mark.parametrize(
    ("data", "key"),
    [
        ({"zones": {"Door": [[0.1, 0.1], [0.2, 0.2]]}}, "polygon_points"),
        ({"zones": {"Door": [[0.0, 0.0], [1.5, 0.0], [0.5, 0.5]]}}, "polygon_range"),
        ({"masks": [[[0.0, 0.0], [1.0, 1.0], [1.0, 0.0], [0.0, 1.0]]]}, "polygon_self_intersecting"),
        ({"masks": [[[0.0, 0.0], [0.5, 0.5], [1.0, 1.0]]]}, "polygon_area"),
        ({"masks": ["not a polygon"]}, "polygon_shape"),
        ({"zones": {"": BACK_DOOR}}, "zone_name"),
        ({"zones": [BACK_DOOR]}, "zones_invalid"),
        ({"objects": ["unicorn"]}, "zones_invalid"),
        ({}, "nothing_to_set"),
    ],
)
async def test_what_is_not_a_polygon_is_refused_with_a_clear_error(
    hass: HomeAssistant, porch: str, data: dict[str, Any], key: str
) -> None:
    with pytest.raises(ServiceValidationError) as caught:
        await _set(hass, porch, **data)
    assert caught.value.translation_key == key
    desired = hass.config_entries.async_entries(DOMAIN)[0].runtime_data.agents["camera_porch"].desired
    assert desired.zones is None
    assert desired.masks is None


async def test_a_plain_camera_takes_zones_but_not_masks(
    hass: HomeAssistant, init_integration: MockConfigEntry
) -> None:
    fire(hass, "bobby/camera/esp32/detection", detection(camera="esp32"))
    await hass.async_block_till_done()
    esp32 = str(device(hass, init_integration.entry_id, "camera_esp32").id)
    with pytest.raises(ServiceValidationError) as caught:
        await _set(hass, esp32, masks=[MASK])
    assert caught.value.translation_key == "masks_unsupported"
    await _set(hass, esp32, zones={"Gate": BACK_DOOR})
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.esp32_person_in_gate").state == "off"
    announce(hass, "detector_pi4")
    await hass.async_block_till_done()
    detector = str(device(hass, init_integration.entry_id, "detector_pi4").id)
    with pytest.raises(ServiceValidationError) as caught:
        await _set(hass, detector, zones={"Gate": BACK_DOOR})
    assert caught.value.translation_key == "not_a_camera"


async def test_the_last_detection_picture_shows_zones_and_masks(
    hass: HomeAssistant, porch: str, mqtt_mock: MqttMockHAClient
) -> None:
    from homeassistant.components.camera import async_get_image

    buffer = io.BytesIO()
    Image.new("RGB", (320, 240), (0, 0, 0)).save(buffer, "JPEG")
    fire(hass, "bobby/camera/porch/snapshot", buffer.getvalue(), retain=True)
    await hass.async_block_till_done()
    plain = await async_get_image(hass, "camera.porch_last_detection")
    assert plain.content == buffer.getvalue()
    await _set_answered(hass, mqtt_mock, porch, masks=[MASK], zones={"Back door": BACK_DOOR})
    drawn = await async_get_image(hass, "camera.porch_last_detection")
    with Image.open(io.BytesIO(drawn.content)) as image:
        pixels = image.convert("RGB")
        # The zone's left edge (x = 0.5) is drawn in the zone colour; the mask's right edge in grey.
        r, _g, b = pixels.getpixel((160, 150))
        assert b > 150
        assert r < 120
        r, g, _b = pixels.getpixel((96, 20))
        assert abs(r - g) < 40
        assert r > 100
    again = await async_get_image(hass, "camera.porch_last_detection")
    assert again.content == drawn.content  # drawn once, not on every request


def test_zones_of_takes_the_bottom_centre() -> None:
    zones = {"Back door": BACK_DOOR, "Pavement": PAVEMENT}
    assert zones_module.zones_of([0.4, 0.0, 0.7, 0.9], zones) == ["Back door"]
    assert zones_module.zones_of([0.1, 0.0, 0.3, 0.2], zones) == []
    # Cut by the frame's bottom edge (the demo's people): in the zone drawn down to it.
    assert zones_module.zones_of([0.6, 0.0, 0.8, 1.0], zones) == ["Back door"]


async def test_zone_and_object_sensors_clear_as_the_person_sensor_does(
    hass: HomeAssistant, porch: str, mqtt_mock: MqttMockHAClient, freezer: FrozenDateTimeFactory
) -> None:
    zones = {"Back door": BACK_DOOR, "Pavement": PAVEMENT}  # nobody on the pavement
    await _set_answered(hass, mqtt_mock, porch, objects=["person", "dog"], zones=zones)
    dog = {"score": 0.7, "box": [0.6, 0.6, 0.8, 0.9], "label": "dog"}
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[_person(0.75, 0.95), dog], person_count=1))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_dog").state == "on"
    assert hass.states.get("sensor.porch_dog_count").state == "1"
    assert hass.states.get("binary_sensor.porch_person_in_back_door").state == "on"
    # Seen again, then not in the next frame: still there until clear_after passes.
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[dog], person_count=0))
    fire(hass, "bobby/camera/porch/detection", detection(boxes=[_person(0.75, 0.95)], person_count=1))
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_dog").state == "on"
    assert hass.states.get("sensor.porch_dog_count").state == "1"
    freezer.tick(timedelta(seconds=31))  # clear_after: 30 s
    async_fire_time_changed(hass)
    await hass.async_block_till_done()
    assert hass.states.get("binary_sensor.porch_dog").state == "off"
    assert hass.states.get("sensor.porch_dog_count").state == "0"
    assert hass.states.get("binary_sensor.porch_person_in_back_door").state == "off"
    assert hass.states.get("binary_sensor.porch_person_in_pavement").state == "off"
    assert hass.states.get("binary_sensor.porch_person").state == "off"


async def test_a_snapshot_pillow_cannot_read_is_shown_as_it_came(
    hass: HomeAssistant, porch: str, mqtt_mock: MqttMockHAClient
) -> None:
    from homeassistant.components.camera import async_get_image

    await _set_answered(hass, mqtt_mock, porch, masks=[MASK])
    # A frame header and nothing after it: valid for the protocol's check, not for Pillow.
    broken = b"\xff\xd8\xff\xc0\x00\x11\x08\x00\x10\x00\x10\x03\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    fire(hass, "bobby/camera/porch/snapshot", broken)
    await hass.async_block_till_done()
    assert (await async_get_image(hass, "camera.porch_last_detection")).content == broken
