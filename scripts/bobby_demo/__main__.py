"""`scripts/run`: the whole system on this machine until Ctrl-C.

Mosquitto on loopback, a camera agent playing the sample pictures, a detector with the
default model, and Home Assistant with MQTT and Bobby Camera already set up. Prints the
address and the login it created; every log goes to one folder.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from tests.support.mosquitto import Mosquitto

from .processes import free_port
from .samples import make_samples
from .system import BobbySystem

_LOGGER = logging.getLogger("bobby_demo")

CAMERA_ID = "demo-camera"
DETECTOR_ID = "demo-detector"
FPS = 2.0
# Quick enough to watch: on within a frame of a person, off 5 s after the last one.
DEMO_OPTIONS = {"trigger_after": 0, "clear_after": 5}


def parse_args() -> argparse.Namespace:
    cache = Path(os.environ.get("BOBBY_CACHE", "~/.cache/bobby-camera")).expanduser()
    parser = argparse.ArgumentParser(prog="scripts/run", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--run-dir",
        type=Path,
        default=cache / "run",
        help="working folder; logs go to RUN_DIR/logs (default %(default)s)",
    )
    parser.add_argument("--hass-port", type=int, default=8123, help="preferred port (default %(default)s)")
    parser.add_argument("--broker-port", type=int, default=18830, help="preferred port (default %(default)s)")
    parser.add_argument(
        "--duration",
        type=float,
        default=0,
        help="stop by itself after this many seconds (default: run until Ctrl-C)",
    )
    return parser.parse_args()


def setup_logging(log_dir: Path) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    file = logging.FileHandler(log_dir / "run.log")
    file.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[console, file])


def banner(system: BobbySystem, log_dir: Path) -> str:
    hass = system.hass
    lines = [
        "",
        "Bobby Camera is running.",
        f"  Home Assistant:  {hass.url}   (this machine logs in without a password)",
        f"  Login:           user {hass.username!r}, password {hass.password!r}",
        f"  MQTT broker:     {system.broker}",
        f"  Camera:          {CAMERA_ID} (sample pictures: a person for 8 s, then 16 s without)",
        f"  Detector:        {DETECTOR_ID}",
        f"  Logs:            {log_dir}",
        "  Stop:            Ctrl-C",
        "",
    ]
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    run_dir: Path = args.run_dir.expanduser().resolve()
    log_dir = run_dir / "logs"
    shutil.rmtree(log_dir, ignore_errors=True)  # one run's logs, not an ever-growing heap
    setup_logging(log_dir)

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _LOGGER.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    broker = Mosquitto(run_dir / "mosquitto", port=free_port(args.broker_port))
    system: BobbySystem | None = None
    try:
        broker.start()
        (log_dir / "mosquitto.log").symlink_to(broker.log_path)
        _LOGGER.info("Mosquitto listening on %s", broker.url)
        samples = run_dir / "samples"
        make_samples(samples, fps=FPS, person_seconds=8, empty_seconds=16)

        system = BobbySystem(
            run_dir, broker.host, broker.port, log_dir=log_dir, hass_port=free_port(args.hass_port)
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
        (run_dir / "login.txt").write_text(
            f"url {system.hass.url}\nuser {system.hass.username}\npassword {system.hass.password}\n"
        )
        print(banner(system, log_dir), flush=True)  # the one thing a person must read

        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.wait(1.0):
            system.check_running()
            if deadline and time.monotonic() > deadline:
                _LOGGER.info("--duration reached: stopping")
                break
        return 0
    except Exception as err:
        _LOGGER.error("%s", err)
        _LOGGER.error("logs: %s", log_dir)
        return 1
    finally:
        # Ctrl-C again while stopping should not leave processes behind.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        if system:
            system.stop()
        broker.stop()
        _LOGGER.info("stopped; logs are in %s", log_dir)


if __name__ == "__main__":
    sys.exit(main())
