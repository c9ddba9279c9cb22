"""A real Home Assistant for the demo and the end-to-end test.

`HassInstance` prepares a config folder that needs no onboarding clicks (onboarding marked
done, a user added with `hass --script auth`, trusted networks for 127.0.0.1, our custom
component linked in), runs `hass` and waits until it is up. `HassApi` talks to it the way
a person's browser or a script would: a token from the login flow, the REST API, and the
WebSocket API for the registries (which REST does not expose).
"""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import shutil
import string
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from .processes import ManagedProcess, free_port, wait_until

_LOGGER = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[2]
# Letters and digits: `hass --script auth add` takes a password that starts with "-" for an
# option and fails (secrets.token_urlsafe gave one in 64 demo starts; CI met it).
PASSWORD_ALPHABET = string.ascii_letters + string.digits
COMPONENT = REPO / "custom_components" / "bobby_camera"

# Onboarding steps of Home Assistant 2025.4 – 2026.x (storage version 4).
ONBOARDING = {
    "version": 4,
    "minor_version": 1,
    "key": "onboarding",
    "data": {"done": ["user", "core_config", "analytics", "integration"]},
}

# Only what the demo needs: `default_config` would pull integrations (bluetooth, cloud, ...)
# whose requirements are not installed and would be fetched at start-up.
CONFIGURATION = """\
homeassistant:
  name: Bobby Camera demo
  latitude: 51.5
  longitude: -0.12
  elevation: 10
  unit_system: metric
  time_zone: UTC
  country: GB
  currency: GBP
  # Clips go under the run's own folder (HA would pick the host's /media when it exists).
  media_dirs:
    local: {media}
  auth_providers:
    - type: trusted_networks
      trusted_networks:
        - 127.0.0.1/32
        - "::1/128"
      allow_bypass_login: true
    - type: homeassistant

http:
  server_host: 127.0.0.1
  server_port: {port}

logger:
  default: info
  logs:
    custom_components.bobby_camera: debug
    homeassistant.components.mqtt: info

api:
config:
media_source:
{extra}"""

# With the web interface: the frontend and the panels a person expects to see.
FRONTEND_EXTRA = """\
frontend:
history:
logbook:
"""


class HassError(RuntimeError):
    """Home Assistant answered something unexpected; the message holds its answer."""


class HassInstance:
    """One `hass -c CONFIG_DIR` process with a ready-made user."""

    def __init__(
        self,
        config_dir: Path,
        log_dir: Path,
        *,
        port: int | None = None,
        frontend: bool = True,
        username: str = "bobby",
        password: str | None = None,
    ) -> None:
        self.config_dir = config_dir
        self.log_dir = log_dir
        self.port = port or free_port()
        self.frontend = frontend
        self.username = username
        self.password = password or "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(14))
        self.process: ManagedProcess | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def prepare(self) -> None:
        """Write a fresh config folder: configuration, onboarding done, our component, a user."""
        if self.config_dir.exists():
            shutil.rmtree(self.config_dir)
        storage = self.config_dir / ".storage"
        storage.mkdir(parents=True)
        media = self.config_dir / "media"  # media_dirs must exist
        media.mkdir()
        (storage / "onboarding").write_text(json.dumps(ONBOARDING, indent=2))
        extra = FRONTEND_EXTRA if self.frontend else ""
        (self.config_dir / "configuration.yaml").write_text(
            CONFIGURATION.format(port=self.port, extra=extra, media=media)
        )
        components = self.config_dir / "custom_components"
        components.mkdir()
        (components / COMPONENT.name).symlink_to(COMPONENT, target_is_directory=True)
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "homeassistant",
                "--script",
                "auth",
                "-c",
                str(self.config_dir),
                "add",
                self.username,
                self.password,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if result.returncode != 0 or "Auth created" not in result.stdout:
            raise HassError(f"`hass --script auth add` failed: {result.stdout}{result.stderr}")
        _LOGGER.info("Home Assistant config in %s, user %s", self.config_dir, self.username)

    def start(self, timeout: float = 120.0) -> HassApi:
        """Start `hass`, wait until it runs, log in; returns an API client with a token."""
        self.process = ManagedProcess(
            "home-assistant",
            [sys.executable, "-m", "homeassistant", "-c", str(self.config_dir), "--log-no-color"],
            self.log_dir / "home-assistant.log",
        ).start()
        api = HassApi(self.url)
        wait_until(
            lambda: self._alive() and api.reachable(), timeout, "Home Assistant answers on " + self.url
        )
        api.login(self.username, self.password)
        config = wait_until(
            lambda: self._alive() and self._running(api), timeout, "Home Assistant reaches state RUNNING"
        )
        if config.get("recovery_mode") or config.get("safe_mode"):  # type: ignore[union-attr]
            raise HassError(f"Home Assistant started in recovery mode: see {self.process.log_path}")
        _LOGGER.info("Home Assistant is running at %s", self.url)
        return api

    @staticmethod
    def _running(api: HassApi) -> dict[str, Any] | None:
        config: dict[str, Any] = api.get("/api/config")
        return config if config["state"] == "RUNNING" else None

    def _alive(self) -> bool:
        assert self.process is not None
        self.process.check_running()
        return True

    def stop(self) -> None:
        if self.process:
            self.process.stop(timeout=60)


class HassApi:
    """Home Assistant's REST and WebSocket APIs, as a client on another machine would use them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.tokens: dict[str, Any] = {}

    # --- plumbing ---------------------------------------------------------------------
    def _request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        form: bool = False,
        auth: bool = True,
        timeout: float = 30.0,
    ) -> Any:
        headers = {}
        data = None
        if body is not None:
            if form:
                data = urllib.parse.urlencode(body).encode()
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            else:
                data = json.dumps(body).encode()
                headers["Content-Type"] = "application/json"
        if auth:
            headers["Authorization"] = f"Bearer {self.tokens['access_token']}"
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                text = response.read().decode()
        except urllib.error.HTTPError as err:
            raise HassError(
                f"{method} {path}: HTTP {err.code}: {err.read().decode(errors='replace')}"
            ) from None
        return json.loads(text) if text else None

    def get(self, path: str) -> Any:
        return self._request("GET", path)

    def post(self, path: str, body: Any = None) -> Any:
        return self._request("POST", path, body if body is not None else {})

    def reachable(self) -> bool:
        try:
            self._request("GET", "/auth/providers", auth=False, timeout=2)
        except (OSError, HassError):
            return False
        return True

    def login(self, username: str, password: str) -> dict[str, Any]:
        """The login flow of HA's own frontend: flow, credentials, then an authorization code."""
        client_id = self.url + "/"
        flow = self._request(
            "POST",
            "/auth/login_flow",
            {
                "client_id": client_id,
                "handler": ["homeassistant", None],
                "redirect_uri": self.url + "/?auth_callback=1",
            },
            auth=False,
        )
        result = self._request(
            "POST",
            f"/auth/login_flow/{flow['flow_id']}",
            {
                "client_id": client_id,
                "username": username,
                "password": password,
            },
            auth=False,
        )
        if result.get("type") != "create_entry":
            raise HassError(f"login of {username} failed: {result}")
        self.tokens = self._request(
            "POST",
            "/auth/token",
            {
                "grant_type": "authorization_code",
                "code": result["result"],
                "client_id": client_id,
            },
            form=True,
            auth=False,
        )
        self.tokens["client_id"] = client_id
        return self.tokens

    # --- states and services --------------------------------------------------------
    def states(self) -> list[dict[str, Any]]:
        return list(self.get("/api/states"))

    def state(self, entity_id: str) -> dict[str, Any]:
        return dict(self.get(f"/api/states/{entity_id}"))

    def call_service(self, domain: str, service: str, data: dict[str, Any]) -> Any:
        return self.post(f"/api/services/{domain}/{service}", data)

    # --- config entries through the config-flow API -----------------------------------
    def config_entries(self, domain: str) -> list[dict[str, Any]]:
        return list(self.get(f"/api/config/config_entries/entry?domain={domain}"))

    def run_config_flow(self, handler: str, *steps: dict[str, Any]) -> dict[str, Any]:
        """Start a config flow and answer its forms with `steps`; returns the created entry."""
        result = self.post(
            "/api/config/config_entries/flow", {"handler": handler, "show_advanced_options": False}
        )
        return self._answer_flow("/api/config/config_entries/flow", result, steps, handler)

    def run_options_flow(self, entry_id: str, *steps: dict[str, Any]) -> dict[str, Any]:
        result = self.post("/api/config/config_entries/options/flow", {"handler": entry_id})
        return self._answer_flow(
            "/api/config/config_entries/options/flow", result, steps, f"options {entry_id}"
        )

    def _answer_flow(
        self, base: str, result: dict[str, Any], steps: tuple[dict[str, Any], ...], what: str
    ) -> dict[str, Any]:
        for answer in steps:
            if result.get("type") != "form":
                break
            if result.get("errors"):
                raise HassError(f"{what} flow: errors {result['errors']} at step {result.get('step_id')}")
            # The form's defaults under our answer: a form grows fields between HA versions
            # (2026's MQTT broker step has a required `other_settings` section).
            result = self.post(f"{base}/{result['flow_id']}", form_defaults(result["data_schema"]) | answer)
        if result.get("type") != "create_entry":
            raise HassError(f"{what} flow did not create an entry: {result}")
        return result

    def ensure_mqtt(
        self, host: str, port: int, username: str | None = None, password: str | None = None
    ) -> dict[str, Any]:
        """HA's MQTT integration on our broker (the config entry's format differs between HA
        versions; its flow does not, so it is made through the flow)."""
        for entry in self.config_entries("mqtt"):
            return entry
        answer: dict[str, Any] = {"broker": host, "port": port}
        if username:
            answer |= {"username": username, "password": password or ""}
        self.run_config_flow("mqtt", answer)
        return self.wait_entry_loaded("mqtt")

    def wait_entry_loaded(self, domain: str, timeout: float = 60.0) -> dict[str, Any]:
        def loaded() -> dict[str, Any] | None:
            for entry in self.config_entries(domain):
                if entry["state"] == "loaded":
                    return entry
                if entry["state"] in ("setup_error", "migration_error", "failed_unload"):
                    raise HassError(f"{domain} entry failed: {entry}")
            return None

        return wait_until(loaded, timeout, f"the {domain} config entry is loaded")  # type: ignore[return-value]

    # --- WebSocket API (registries) ---------------------------------------------------
    def ws(self, command: dict[str, Any]) -> Any:
        """One WebSocket command on a connection of its own; returns its result."""
        return asyncio.run(self._ws(command))

    async def _ws(self, command: dict[str, Any]) -> Any:
        import aiohttp  # installed with Home Assistant

        async with aiohttp.ClientSession() as session, session.ws_connect(self.url + "/api/websocket") as ws:
            await ws.receive_json()  # auth_required
            await ws.send_json({"type": "auth", "access_token": self.tokens["access_token"]})
            answer = await ws.receive_json()
            if answer.get("type") != "auth_ok":
                raise HassError(f"websocket auth failed: {answer}")
            await ws.send_json({"id": 1, **command})
            while True:
                message = await ws.receive_json(timeout=30)
                if message.get("id") == 1 and message.get("type") == "result":
                    if not message.get("success"):
                        raise HassError(f"websocket {command['type']}: {message.get('error')}")
                    return message.get("result")

    def entity_registry(self) -> list[dict[str, Any]]:
        return list(self.ws({"type": "config/entity_registry/list"}))

    def device_registry(self) -> list[dict[str, Any]]:
        return list(self.ws({"type": "config/device_registry/list"}))

    def entity_by_unique_id(self, platform: str, unique_id: str) -> str | None:
        for entry in self.entity_registry():
            if entry["platform"] == platform and entry["unique_id"] == unique_id:
                return str(entry["entity_id"])
        return None


def form_defaults(schema: list[dict[str, Any]]) -> dict[str, Any]:
    """What HA's frontend sends for a form nobody touched: each field's default; for a
    required field without one, a boolean's `false` and a drop-down's first option; each
    section (a collapsible group of fields, `"type": "expandable"`) as a dict of its own."""
    values: dict[str, Any] = {}
    for field in schema:
        selector = field.get("selector") or {}
        if field.get("type") == "expandable":
            values[field["name"]] = form_defaults(field.get("schema", []))
        elif "default" in field:
            values[field["name"]] = field["default"]
        elif field.get("required") and "boolean" in selector:
            values[field["name"]] = False
        elif field.get("required") and (options := (selector.get("select") or {}).get("options")):
            first = options[0]
            values[field["name"]] = first["value"] if isinstance(first, dict) else first
    return values
