"""custom_components/bobby_camera/quality_scale.yaml covers every rule of the quality scale,
and every rule not done says why (hassfest checks this only for core integrations)."""

from __future__ import annotations

from pathlib import Path

import yaml

FILE = Path(__file__).resolve().parents[2] / "custom_components" / "bobby_camera" / "quality_scale.yaml"

# The rules of Home Assistant core's script/hassfest/quality_scale.py (ALL_RULES), by tier.
RULES = {
    "bronze": """action-setup appropriate-polling brands common-modules config-flow
        config-flow-test-coverage dependency-transparency docs-actions docs-conditions
        docs-high-level-description docs-installation-instructions docs-removal-instructions
        docs-triggers entity-event-setup entity-unique-id has-entity-name runtime-data
        test-before-configure test-before-setup unique-config-entry""",
    "silver": """action-exceptions config-entry-unloading docs-configuration-parameters
        docs-installation-parameters entity-unavailable integration-owner log-when-unavailable
        parallel-updates reauthentication-flow test-coverage""",
    "gold": """devices diagnostics discovery discovery-update-info docs-data-update docs-examples
        docs-known-limitations docs-supported-devices docs-supported-functions
        docs-troubleshooting docs-use-cases dynamic-devices entity-category entity-device-class
        entity-disabled-by-default entity-translations exception-translations icon-translations
        reconfiguration-flow repair-issues stale-devices""",
    "platinum": "async-dependency inject-websession strict-typing",
}


def test_every_rule_is_listed_and_not_done_ones_say_why() -> None:
    rules = yaml.safe_load(FILE.read_text())["rules"]
    expected = {rule for tier in RULES.values() for rule in tier.split()}
    assert set(rules) == expected
    for name, value in rules.items():
        status = value if isinstance(value, str) else value["status"]
        assert status in {"done", "exempt", "todo"}, name
        if status != "done":
            assert isinstance(value, dict), f"{name}: {status} without a comment"
            assert len(value.get("comment", "")) > 15, f"{name}: {status} without a reason"
    assert [
        name
        for name, value in rules.items()
        if value == "todo" or (isinstance(value, dict) and value["status"] == "todo")
    ] == []
