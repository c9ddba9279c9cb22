"""The example automations of docs/home-assistant.md load in Home Assistant as written."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from homeassistant.core import HomeAssistant
from homeassistant.setup import async_setup_component

GUIDE = Path(__file__).resolve().parents[2] / "docs" / "home-assistant.md"


def _examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```yaml\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)
    return [yaml.safe_load(block) for block in blocks]


def test_the_guide_has_examples() -> None:
    assert len(_examples()) >= 5
    assert all("alias" in example and "triggers" in example for example in _examples())


@pytest.mark.usefixtures("init_integration")
async def test_examples_load_as_automations(hass: HomeAssistant) -> None:
    """Each example passes HA's automation schema (templates included) and is switched on."""
    examples = _examples()
    assert await async_setup_component(hass, "automation", {"automation": examples})
    await hass.async_block_till_done()
    states = {state.name: state.state for state in hass.states.async_all("automation")}
    assert states == {example["alias"]: "on" for example in examples}
