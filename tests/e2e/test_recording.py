"""End to end: the demo's person scenes leave clips in HA's media browser, and a browser plays one.

Real camera agent (recording on the `images:` source), real detector, real Mosquitto,
real `hass` with the frontend, and headless Chromium (Debian's `chromium`, driven over
the DevTools protocol by scripts/bobby_demo/browser.py: no npm packages).
"""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import quote

import av

from bobby_demo.browser import Browser
from bobby_demo.hass import HassError
from bobby_demo.screenshot import hass_tokens

from .conftest import CAMERA, E2E, LOG_DIR

ROOT = "media-source://bobby_camera"
REPO = Path(__file__).resolve().parents[2]
SCREENSHOT = "screenshot-media-browser.png"
# Outside LOG_DIR, which the next lane's system wipes: docs/ takes its copy from here.
SHOTS = LOG_DIR.parent / "e2e-screenshots"


def browse(e2e: E2E, content_id: str) -> dict[str, Any]:
    result: dict[str, Any] = e2e.api.ws({"type": "media_source/browse_media", "media_content_id": content_id})
    return result


def finished_events(e2e: E2E) -> list[dict[str, Any]]:
    """Events of the camera with a finished clip, newest first (as the media browser lists them)."""
    days = browse(e2e, f"{ROOT}/{CAMERA}")["children"]
    if not days:
        return []
    events = browse(e2e, days[0]["media_content_id"])["children"]
    return [e for e in events if e["can_play"] and "recording" not in e["title"]]


def playable_events(e2e: E2E) -> set[str]:
    try:
        days = browse(e2e, f"{ROOT}/{CAMERA}")["children"]
    except HassError:  # no clip yet: the camera's folder does not exist
        return set()
    return {
        e["media_content_id"]
        for d in days
        for e in browse(e2e, d["media_content_id"])["children"]
        if e["can_play"]
    }


def test_person_scenes_leave_clips_that_a_browser_plays(e2e: E2E) -> None:
    """Detection → first chunk playable in HA (measured) → finished clip listed → Chromium plays it."""
    detection = f"bobby/camera/{CAMERA}/detection"
    e2e.wait_state("person", "off", timeout=90)
    known = playable_events(e2e)
    start = e2e.probe.mark()
    first = e2e.probe.wait_for(lambda m: m.topic == detection, timeout=90, since=start)
    new = e2e.wait_for(
        lambda: playable_events(e2e) - known, 60, "the new event's first chunk is playable in HA"
    )
    print(f"first detection → first chunk playable in HA: {time.monotonic() - first.at:.1f} s (within 0.2 s)")

    # The newest: a test before this one (live view plays the demo's pictures faster) may
    # leave an event whose first chunk becomes playable meanwhile.
    event = max(new)
    clip = e2e.wait_for(
        lambda: next((e for e in finished_events(e2e) if e["media_content_id"] == event), None),
        90,
        "the event's clip is finished",
    )
    assert clip["thumbnail"].endswith("/snapshot.jpg")
    resolved = e2e.api.ws({"type": "media_source/resolve_media", "media_content_id": event})
    assert resolved["mime_type"] == "video/mp4"
    url = e2e.api.url + resolved["url"]
    with urllib.request.urlopen(url, timeout=30) as response:
        data = response.read()
    downloaded = LOG_DIR / "clip.mp4"
    downloaded.write_bytes(data)
    with av.open(str(downloaded)) as container:
        frames = sum(1 for _ in container.decode(video=0))
    assert frames > 0

    playing = asyncio.run(_browser_checks(e2e, event, url))
    assert playing["error"] is None, playing
    assert playing["currentTime"] > 0.5, playing


async def _browser_checks(e2e: E2E, event: str, url: str) -> dict[str, Any]:
    """Open the media browser at the camera's day (screenshot), then play the clip in a <video>."""
    browser = Browser(1280, 900)
    try:
        await browser.page()
        await browser.goto(e2e.api.url + "/")  # HA's origin, to reach its localStorage
        tokens = json.dumps(hass_tokens(e2e.api))
        await browser.send("Runtime.evaluate", expression=f"localStorage.setItem('hassTokens', {tokens})")
        # The frontend's route: one "<type>,<id>" step per level below the root.
        day = event.rsplit("/", 1)[0]
        steps = [f"app,{ROOT}", f"directory,{ROOT}/{CAMERA}", f"directory,{day}"]
        await browser.goto(
            e2e.api.url + "/media-browser/browser/" + "/".join(quote(s, safe="") for s in steps)
        )
        SHOTS.mkdir(exist_ok=True)
        await browser.screenshot(SHOTS / SCREENSHOT)
        # The clip in a plain page of HA's origin (its manifest): the frontend may still be
        # routing the page above (on a loaded machine it navigated under the script).
        await browser.open(e2e.api.url + "/manifest.json")
        script = f"""
            new Promise((resolve) => {{
              const video = document.createElement("video");
              video.muted = true;
              video.src = {json.dumps(url)};
              document.body.appendChild(video);
              video.play().catch((e) => resolve({{error: String(e), currentTime: video.currentTime}}));
              const started = Date.now();
              const check = () => {{
                if (video.error) {{
                  resolve({{error: video.error.message || String(video.error.code), currentTime: 0}});
                  return;
                }}
                if (video.currentTime > 0.5 || Date.now() - started > 20000) {{
                  resolve({{error: null, currentTime: video.currentTime, duration: video.duration}}); return;
                }}
                setTimeout(check, 100);
              }};
              check();
            }})
        """
        result = await browser.send(
            "Runtime.evaluate", expression=script, awaitPromise=True, returnByValue=True
        )
        value: dict[str, Any] = result["result"]["value"]
        return value
    finally:
        await browser.close()
