"""The demo set-up shared by `scripts/run` and `scripts/screenshot`: a broker, Home Assistant
with the integration, a detector, and a camera playing the sample pictures."""

from __future__ import annotations

import logging
from pathlib import Path

from tests.support.mosquitto import Mosquitto

from .processes import free_port
from .samples import make_samples
from .system import BobbySystem

_LOGGER = logging.getLogger(__name__)

CAMERA_ID = "demo-camera"
DETECTOR_ID = "demo-detector"
FPS = 2.0
PERSON_SECONDS, EMPTY_SECONDS = 8.0, 16.0
# Quick enough to watch: on within a frame of a person, off 5 s after the last one.
DEMO_OPTIONS = {"trigger_after": 0, "clear_after": 5}


class Demo:
    """Start with `start()`, stop with `stop()` (safe to call after a failed start)."""

    def __init__(
        self,
        run_dir: Path,
        *,
        hass_port: int = 8123,
        broker_port: int = 18830,
        person_seconds: float = PERSON_SECONDS,
        empty_seconds: float = EMPTY_SECONDS,
    ) -> None:
        self.run_dir = run_dir
        self.person_seconds, self.empty_seconds = person_seconds, empty_seconds
        self.log_dir = run_dir / "logs"
        self.broker = Mosquitto(run_dir / "mosquitto", port=free_port(broker_port))
        self.hass_port = hass_port
        self.system: BobbySystem | None = None

    def start(self) -> BobbySystem:
        self.broker.start()
        (self.log_dir / "mosquitto.log").unlink(missing_ok=True)
        (self.log_dir / "mosquitto.log").symlink_to(self.broker.log_path)
        _LOGGER.info("Mosquitto listening on %s", self.broker.url)
        samples = self.run_dir / "samples"
        make_samples(samples, fps=FPS, person_seconds=self.person_seconds, empty_seconds=self.empty_seconds)

        self.system = system = BobbySystem(
            self.run_dir,
            self.broker.host,
            self.broker.port,
            log_dir=self.log_dir,
            hass_port=free_port(self.hass_port),
        )
        system.start_hass()
        system.setup_integrations(DEMO_OPTIONS)
        system.start_detector(DETECTOR_ID, "--name", "Demo detector")
        system.start_camera(
            CAMERA_ID,
            f"images:{samples}",
            "--name",
            "Demo camera",
            "--fps",
            str(FPS),
            "--width",
            "640",
            "--height",
            "480",
        )
        (self.run_dir / "login.txt").write_text(
            f"url {system.hass.url}\nuser {system.hass.username}\npassword {system.hass.password}\n"
        )
        return system

    def stop(self) -> None:
        """Agents first (they publish `offline`), then Home Assistant, then the broker."""
        if self.system:
            self.system.stop()
        self.broker.stop()

    def banner(self) -> str:
        assert self.system is not None
        hass = self.system.hass
        return "\n".join(
            [
                "",
                "Bobby Camera is running.",
                f"  Home Assistant:  {hass.url}   (from this machine no password is asked)",
                f"  Login:           user {hass.username!r}, password {hass.password!r}",
                f"  MQTT broker:     {self.system.broker}",
                f"  Camera:          {CAMERA_ID} (sample pictures: a person for {self.person_seconds:.0f} s, "
                f"then {self.empty_seconds:.0f} s without)",
                f"  Detector:        {DETECTOR_ID}",
                f"  Logs:            {self.log_dir}",
                "  Stop:            Ctrl-C",
                "",
            ]
        )
