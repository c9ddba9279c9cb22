"""Screenshots of the demo in Home Assistant's web interface, taken with headless Chromium.

A one-off for the docs (not part of CI): starts the demo, waits until the camera sees a
person, logs the browser in with a token in localStorage (as HA's frontend keeps it), and
saves the overview dashboard and the camera's device page as PNG files.

    scripts/screenshot [--out docs]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from .demo import CAMERA_ID, Demo
from .hass import HassApi
from .processes import wait_until

_LOGGER = logging.getLogger(__name__)
REPO = Path(__file__).resolve().parents[2]
# Flags that keep Chromium off the network (only loopback is reachable here).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--remote-debugging-port=0",
]
SETTLE_SECONDS = 8.0
PREVIEW_CATCH_UP = 14.0  # the frontend loads lazily; there is no single "rendered" event to wait for


class Browser:
    """Headless Chromium driven over the DevTools protocol (no extra packages needed)."""

    def __init__(self, width: int, height: int) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="bobby-chromium-"))
        self.process = subprocess.Popen(
            [
                chromium(),
                *CHROMIUM_FLAGS,
                f"--window-size={width},{height}",
                f"--user-data-dir={self.profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        wait_until(port_file.exists, 30, "Chromium opens its DevTools port")
        self.port = int(port_file.read_text().split()[0])
        self._id = 0

    async def page(self) -> Any:
        import aiohttp

        self.session = aiohttp.ClientSession()
        async with self.session.get(f"http://127.0.0.1:{self.port}/json/list") as response:
            targets = await response.json()
        url = next(t["webSocketDebuggerUrl"] for t in targets if t["type"] == "page")
        self.ws = await self.session.ws_connect(url, max_msg_size=0)
        await self.send("Page.enable")

    async def send(self, method: str, **params: Any) -> Any:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=60)
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await asyncio.sleep(SETTLE_SECONDS)

    async def screenshot(self, path: Path) -> None:
        result = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))
        _LOGGER.info("saved %s", path)

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise RuntimeError("no Chromium: `apt-get install -y chromium` (scripts/screenshot does)")


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
