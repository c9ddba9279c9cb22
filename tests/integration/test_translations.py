"""Every translation key the code uses exists in translations/en.json (custom integrations
ship no strings.json, so nothing else checks it), and icons.json names the same keys."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import yaml

from custom_components.bobby_camera import binary_sensor, camera, event, sensor, switch
from custom_components.bobby_camera import datetime as datetime_platform
from custom_components.bobby_camera.const import (
    BLIND_CAUSES,
    DEFAULT_OPTIONS,
    ISSUE_AGENT_LIMIT,
    ISSUE_COMMAND_ALL,
    PROBLEM_BLIND,
    PROBLEMS,
)
from custom_components.bobby_camera.problems import reported_translation

PACKAGE = Path(__file__).resolve().parents[2] / "custom_components" / "bobby_camera"
EN = json.loads((PACKAGE / "translations" / "en.json").read_text())
ICONS = json.loads((PACKAGE / "icons.json").read_text())


def _error_translation_keys() -> set[str]:
    """Literal translation keys given to exceptions (…Error(…), ConfigEntryNotReady(…))."""
    found: set[str] = set()
    for path in PACKAGE.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
                continue
            if not node.func.id.endswith(("Error", "NotReady")):
                continue
            for keyword in node.keywords:
                if keyword.arg == "translation_key" and isinstance(keyword.value, ast.Constant):
                    found.add(keyword.value.value)
    return found


def test_exceptions_are_translated() -> None:
    """Each translation_key given to an error has a message."""
    used = _error_translation_keys() | {"command_rejected", "command_timeout", "command_failed"}
    assert {"mqtt_not_ready", "unknown_device", "not_a_camera"} <= used
    assert used <= set(EN["exceptions"]), used - set(EN["exceptions"])


def _issue_title(issue: object) -> str:
    """The English title of a repair issue, as the frontend shows it."""
    text: str = EN["issues"][issue.translation_key]["title"]  # type: ignore[attr-defined]
    return text.format(**(issue.translation_placeholders or {}))  # type: ignore[attr-defined]


# Codes agents report (docs/protocol.md, "problems"), one of each translation.
REPORTED_CODES = (
    "not_authorised_publish_detection",
    "not_authorised_subscribe_frame",
    "refused_publish_state",
    "refused_subscribe_set",
    "state_not_saved",
    "source_unavailable",
    "covered",
    "defocused",
    "turned_away",
    "something_new",
)


def test_repair_issues_are_translated() -> None:
    """Each problem, each kind of reported problem and each hub issue has a title and description."""
    keys = {
        *(p for p in PROBLEMS if p != PROBLEM_BLIND),
        *(f"{PROBLEM_BLIND}_{cause}" for cause in BLIND_CAUSES),  # one issue per cause
        *(reported_translation(c)[0] for c in REPORTED_CODES),
        ISSUE_AGENT_LIMIT,
        ISSUE_COMMAND_ALL,
    }
    assert len(keys) == len(PROBLEMS) - 1 + len(BLIND_CAUSES) + 12
    for key in keys:
        assert {"title", "description"} <= set(EN["issues"][key]), key


def test_every_option_is_translated() -> None:
    """Each option has a label and a description in the options form."""
    init = EN["options"]["step"]["init"]
    assert set(DEFAULT_OPTIONS) == set(init["data"]) == set(init["data_description"])


def test_entities_have_names_and_icons() -> None:
    """Each translation key of an entity description has a name (and an icon, except problem)."""
    platforms = {
        "binary_sensor": binary_sensor.DESCRIPTIONS,
        "camera": camera.DESCRIPTIONS,
        "datetime": datetime_platform.DESCRIPTIONS,
        "event": event.DESCRIPTIONS,
        "sensor": sensor.DESCRIPTIONS,
        "switch": switch.DESCRIPTIONS,
    }
    for platform, descriptions in platforms.items():
        for description in descriptions:
            if description.translation_key is None:
                continue
            assert "name" in EN["entity"][platform][description.translation_key], description.key
            if description.translation_key != "problem":
                assert description.translation_key in ICONS["entity"][platform], description.key
    assert "name" in EN["entity"]["switch"]["all_enabled"]


def test_event_types_are_translated() -> None:
    """Each event type of an event entity has a state translation."""
    for description in event.DESCRIPTIONS:
        states = EN["entity"]["event"][description.translation_key]["state_attributes"]["event_type"]["state"]
        assert set(description.event_types) == set(states)


def test_actions_match_services_yaml() -> None:
    """Each action and field of services.yaml is translated and has an icon."""
    services = yaml.safe_load((PACKAGE / "services.yaml").read_text())
    assert set(services) == set(EN["services"]) == set(ICONS["services"])
    for name, spec in services.items():
        assert set(spec["fields"]) == set(EN["services"][name]["fields"])
