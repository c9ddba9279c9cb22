"""Screenshots of the demo in Home Assistant's web interface, taken with headless Chromium.

A one-off for the docs (not part of CI): starts the demo, waits until the camera sees a
person, logs the browser in with a token in localStorage (as HA's frontend keeps it), and
saves the overview dashboard and the camera's device page as PNG files.

    scripts/screenshot [--out docs]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import shutil
import time
from pathlib import Path

from .browser import Browser
from .demo import CAMERA_ID, Demo
from .hass import HassApi
from .processes import wait_until

_LOGGER = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
PREVIEW_CATCH_UP = 14.0  # the frontend loads lazily; there is no single "rendered" event to wait for


def hass_tokens(api: HassApi) -> str:
    """The localStorage entry in which HA's frontend keeps its login."""
    tokens = api.tokens
    return json.dumps(
        {
            "hassUrl": api.url,
            "clientId": tokens["client_id"],
            "access_token": tokens["access_token"],
            "refresh_token": tokens["refresh_token"],
            "token_type": "Bearer",
            "expires_in": tokens["expires_in"],
            "expires": int(time.time() * 1000) + tokens["expires_in"] * 1000,
        }
    )


async def capture(api: HassApi, out: Path, device_id: str, person: str) -> None:
    async def shoot(path: str, name: str) -> None:
        await browser.goto(api.url + path)
        # The moment worth showing: a person seen (the page follows HA's states live).
        await asyncio.to_thread(
            wait_until, lambda: api.state(person)["state"] == "on", 60, "the camera sees a person"
        )
        # The preview card refreshes every 10 s: let it catch up with the person scenes.
        await asyncio.sleep(PREVIEW_CATCH_UP)
        await browser.screenshot(out / name)

    browser = Browser(1400, 1400)
    try:
        await browser.page()
        await browser.goto(api.url + "/")  # any page of HA's origin, to reach its localStorage
        await browser.send(
            "Runtime.evaluate",
            expression=f"localStorage.setItem('hassTokens', {json.dumps(hass_tokens(api))})",
        )
        await shoot("/lovelace/0", "screenshot-dashboard.png")
        await shoot(f"/config/devices/device/{device_id}", "screenshot-device.png")
    finally:
        await browser.close()


def main() -> int:
    parser = argparse.ArgumentParser(prog="scripts/screenshot", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    parser.add_argument("--run-dir", type=Path, default=Path("~/.cache/bobby-camera/screenshot").expanduser())
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # Long person scenes, so the preview, the snapshot and the sensor agree in the picture.
    demo = Demo(args.run_dir, hass_port=0, broker_port=0, person_seconds=60, empty_seconds=10)
    shutil.rmtree(demo.log_dir, ignore_errors=True)
    demo.log_dir.mkdir(parents=True)
    try:
        system = demo.start()
        api = system.api
        assert api is not None
        device_id = wait_until(
            lambda: next(
                (
                    d["id"]
                    for d in api.device_registry()
                    if ["bobby_camera", f"camera_{CAMERA_ID}"] in d["identifiers"]
                ),
                None,
            ),
            60,
            "the demo camera's device appears",
        )
        person = wait_until(
            lambda: api.entity_by_unique_id("bobby_camera", f"camera_{CAMERA_ID}_person"),
            60,
            "the person sensor appears",
        )
        args.out.mkdir(parents=True, exist_ok=True)
        asyncio.run(capture(api, args.out, str(device_id), str(person)))
        return 0
    finally:
        demo.stop()
        _LOGGER.info("logs were in %s", demo.log_dir)


if __name__ == "__main__":
    raise SystemExit(main())
