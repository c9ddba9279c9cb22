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


# --- Links and the README's commands (plain file checks) ---------------------------------

REPO = GUIDE.parents[1]
DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", flags=re.DOTALL | re.MULTILINE)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(([^)\s]+)\)")


def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens."""
    anchors: set[str] = set()
    for heading in re.findall(r"^#{1,6} +(.+?) *$", FENCE.sub("", path.read_text()), flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        anchor, n = slug, 0
        while anchor in anchors:
            n += 1
            anchor = f"{slug}-{n}"
        anchors.add(anchor)
    return anchors


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_relative_links_resolve(doc: Path) -> None:
    """Every relative link (and its #anchor) in README.md and docs/*.md points at something."""
    broken = []
    for target in LINK.findall(FENCE.sub("", doc.read_text())):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        file, _, anchor = target.partition("#")
        path = (doc.parent / file).resolve() if file else doc
        if not path.exists() or (anchor and path.suffix == ".md" and anchor not in _anchors(path)):
            broken.append(target)
    assert not broken, f"{doc.name}: broken links {broken}"


def test_readme_has_the_two_commands() -> None:
    """The README shows exactly two commands in code blocks: the demo and the tests."""
    blocks = [block.strip("`").split("\n", 1) for block in FENCE.findall((REPO / "README.md").read_text())]
    assert [body.strip() for _, body in blocks] == ["scripts/run", "scripts/test"]
