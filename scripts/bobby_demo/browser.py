"""Headless Chromium driven over the DevTools protocol (no npm packages, no extra Python ones).

A `Browser` starts its own Chromium, or, when $BOBBY_CHROMIUM_DEVTOOLS names one
(`host:port`), opens a page in a Chromium that is already running: the e2e2026 lane runs
Home Assistant inside the Debian sid root and the browser on the host, which reaches it
over loopback like any other browser would (so the root needs no GTK).

    python -m bobby_demo.browser PORT_FILE   # start Chromium, write its DevTools port, wait
"""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .processes import wait_until

_LOGGER = logging.getLogger(__name__)
DEVTOOLS_ENV = "BOBBY_CHROMIUM_DEVTOOLS"
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


def chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    raise RuntimeError("no Chromium: `apt-get install -y chromium` (scripts/setup does)")


class Chromium:
    """A Chromium process with a fresh profile; `port` is its DevTools port."""

    def __init__(self) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="bobby-chromium-"))
        self.process = subprocess.Popen(
            [chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={self.profile}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = self.profile / "DevToolsActivePort"
        wait_until(port_file.exists, 30, "Chromium opens its DevTools port")
        self.port = int(port_file.read_text().split()[0])

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(10)
        shutil.rmtree(self.profile, ignore_errors=True)


class Browser:
    """One page, `width`×`height`, in our own Chromium or the one $BOBBY_CHROMIUM_DEVTOOLS names."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.chromium: Chromium | None = None
        if not (shared := os.environ.get(DEVTOOLS_ENV)):
            self.chromium = Chromium()
            shared = f"127.0.0.1:{self.chromium.port}"
        self.devtools = shared
        self._id = 0
        self._target: str | None = None

    async def page(self) -> None:
        import aiohttp

        self.session = aiohttp.ClientSession()
        # A page of our own (a shared Chromium may serve other tests).
        async with self.session.put(f"http://{self.devtools}/json/new?about:blank") as response:
            target = await response.json()
        self._target = target["id"]
        self.ws = await self.session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0)
        await self.send("Page.enable")
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=self.height,
            deviceScaleFactor=1,
            mobile=False,
        )

    async def send(self, method: str, **params: Any) -> Any:
        self._id += 1
        await self.ws.send_json({"id": self._id, "method": method, "params": params})
        while True:
            message = await self.ws.receive_json(timeout=60)
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result")

    async def goto(self, url: str, settle: float = SETTLE_SECONDS) -> None:
        """Open `url`, then give a single-page app `settle` seconds to render (it has no
        single "rendered" event to wait for; it may also route to another address)."""
        await self.send("Page.navigate", url=url)
        await asyncio.sleep(settle)

    async def open(self, url: str) -> None:
        """Open a plain document (no routing of its own) and wait until it has loaded."""
        await self.send("Page.navigate", url=url)
        loaded = "document.readyState === 'complete' && location.href"
        async with asyncio.timeout(60):
            while True:
                try:
                    result = await self.send("Runtime.evaluate", expression=loaded, returnByValue=True)
                    if result["result"].get("value") == url:
                        return
                except RuntimeError:  # evaluated as the previous document went away
                    pass
                await asyncio.sleep(0.1)

    async def screenshot(self, path: Path) -> None:
        result = await self.send("Page.captureScreenshot", format="png")
        await asyncio.to_thread(path.write_bytes, base64.b64decode(result["data"]))
        _LOGGER.info("saved %s", path)

    async def close(self) -> None:
        await self.ws.close()
        if self._target:
            async with self.session.get(f"http://{self.devtools}/json/close/{self._target}"):
                pass
        await self.session.close()
        if self.chromium:
            self.chromium.stop()


def main() -> int:
    """Run Chromium until SIGTERM; write its DevTools port to the file named on the command line."""
    port_file = Path(sys.argv[1])
    browser = Chromium()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        port_file.write_text(str(browser.port))
        while browser.process.poll() is None:
            time.sleep(0.5)
        return 1  # Chromium ended on its own
    finally:
        browser.stop()


if __name__ == "__main__":
    raise SystemExit(main())
