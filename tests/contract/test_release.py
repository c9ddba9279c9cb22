"""What a release needs that no other test sees: one version for the agents and the
integration, the licence, HACS's file, and workflows that do what docs/release promises.

The lint lane builds the wheel and sdist (`python -m build`), checks them with
`twine check --strict` and validates the workflows against GitHub's schema; here, what a
schema cannot say.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
WORKFLOWS = REPO / ".github" / "workflows"


def agents_project() -> dict[str, Any]:
    return tomllib.loads((REPO / "edge_agents" / "pyproject.toml").read_text())["project"]


def manifest() -> dict[str, Any]:
    return json.loads((REPO / "custom_components" / "bobby_camera" / "manifest.json").read_text())


def workflow(name: str) -> dict[Any, Any]:
    loaded = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    loaded["on"] = loaded.pop(True, loaded.get("on"))
    return loaded


def steps(flow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in flow["jobs"].values() for step in job.get("steps", [])]


def test_one_version_for_the_agents_and_the_integration() -> None:
    version = agents_project()["version"]
    assert re.fullmatch(r"\d+\.\d+\.\d+", version)  # PEP 440 and AwesomeVersion alike
    assert manifest()["version"] == version, "edge_agents/pyproject.toml and manifest.json: one version"


def test_apache_license_shipped_with_the_agents() -> None:
    text = (REPO / "LICENSE").read_text()
    assert text.lstrip().startswith("Apache License")
    assert "Version 2.0" in text
    assert agents_project()["license"] == "Apache-2.0"
    # The sdist is built from edge_agents/: its LICENSE is the repository's.
    assert (REPO / "edge_agents" / "LICENSE").read_text() == text


def test_hacs_installs_the_release_zip() -> None:
    hacs = json.loads((REPO / "hacs.json").read_text())
    known = {"name", "homeassistant", "render_readme", "zip_release", "filename", "hide_default_branch"}
    assert set(hacs) <= known
    assert hacs["zip_release"] is True
    release = workflow("release.yml")
    zipping = [s["run"] for s in steps(release) if "zip -r" in s.get("run", "")]
    assert zipping
    assert hacs["filename"] in zipping[0]
    assert "cd custom_components/bobby_camera" in zipping[0]  # files at the zip's root, as HACS wants


def test_release_publishes_on_a_tag_with_trusted_publishing() -> None:
    release = workflow("release.yml")
    assert release["on"] == {"push": {"tags": ["v*"]}}
    pypi = release["jobs"]["pypi"]
    assert pypi["permissions"] == {"id-token": "write"}  # no token: PyPI trusts the workflow
    assert [s["uses"] for s in pypi["steps"]][-1] == "pypa/gh-action-pypi-publish@release/v1"
    runs = " ".join(s.get("run", "") for s in steps(release))
    assert "python -m build --outdir dist edge_agents" in runs
    assert "twine check --strict" in runs
    assert "GITHUB_REF_NAME" in runs  # the tag must be the version
    files = [s["with"]["files"] for s in steps(release) if s.get("uses", "").startswith("softprops/")]
    assert files == [json.loads((REPO / "hacs.json").read_text())["filename"]]


def test_validation_and_tests_workflows() -> None:
    validate = [s.get("uses", "") for s in steps(workflow("validate.yml"))]
    assert "home-assistant/actions/hassfest@master" in validate
    hacs = next(s for s in steps(workflow("validate.yml")) if s.get("uses", "").startswith("hacs/action"))
    assert hacs["with"]["category"] == "integration"
    assert any(s.get("run") == "scripts/test" for s in steps(workflow("tests.yml")))
    for path in WORKFLOWS.glob("*.yml"):
        assert workflow(path.name)["permissions"] == {"contents": "read"}, path  # least privilege


# Raspberry Pi OS bookworm's apt (python3-numpy, python3-pil, python3-av): what a venv with
# system site-packages must be able to keep (docs/install-pi.md).
BOOKWORM = {"numpy": "1.24.2", "pillow": "9.4.0", "av": "10.0.0"}


def test_lower_bounds_are_what_bookworm_ships() -> None:
    from packaging.requirements import Requirement
    from packaging.version import Version

    requirements = {r.name.lower(): r for r in map(Requirement, agents_project()["dependencies"])}
    pins = {}
    for line in (REPO / "tests" / "lower-bounds.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pins[name.lower()] = version
    for name, apt in BOOKWORM.items():
        requirement = requirements[name]
        assert requirement.specifier.contains(apt), f"{name}: {requirement} refuses bookworm's {apt}"
        (bound,) = [s.version for s in requirement.specifier if s.operator == ">="]
        assert Version(bound) == Version(apt), f"{name}: the bound is bookworm's version itself"
        # The agents311low lane runs these exact versions (PyAV: its oldest wheel for 3.11).
        assert requirement.specifier.contains(pins[name]), name
        if name != "av":
            assert Version(pins[name]) == Version(apt), name


def test_every_integration_option_is_in_the_owners_guide() -> None:
    """docs/home-assistant.md's options table names each option as the Configure dialog does."""
    translations = json.loads((REPO / "custom_components/bobby_camera/translations/en.json").read_text())
    labels = translations["options"]["step"]["init"]["data"]
    guide = (REPO / "docs" / "home-assistant.md").read_text()
    table = guide[guide.index("### Options") : guide.index("## Known limitations")]
    missing = [key for key, label in labels.items() if f"**{label}**" not in table]
    assert not missing, f"options missing from docs/home-assistant.md: {missing}"
