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

from .demo import Demo

_LOGGER = logging.getLogger("bobby_demo")


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
    """Fresh logs per run, in one folder; run.log holds this orchestrator's own lines."""
    shutil.rmtree(log_dir, ignore_errors=True)
    log_dir.mkdir(parents=True)
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    console = logging.StreamHandler(sys.stderr)
    console.setFormatter(formatter)
    file = logging.FileHandler(log_dir / "run.log")
    file.setFormatter(formatter)
    logging.basicConfig(level=logging.INFO, handlers=[console, file])


def main() -> int:
    args = parse_args()
    demo = Demo(args.run_dir.expanduser().resolve(), hass_port=args.hass_port, broker_port=args.broker_port)
    setup_logging(demo.log_dir)

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        _LOGGER.info("%s received: stopping", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        system = demo.start()
        print(demo.banner(), flush=True)  # the one thing a person must read
        deadline = time.monotonic() + args.duration if args.duration else None
        while not stop.wait(1.0):
            system.check_running()
            if deadline and time.monotonic() > deadline:
                _LOGGER.info("--duration reached: stopping")
                break
        return 0
    except Exception as err:
        _LOGGER.error("%s", err)
        _LOGGER.error("logs: %s", demo.log_dir)
        return 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C must not leave processes behind
        demo.stop()
        _LOGGER.info("stopped; logs are in %s", demo.log_dir)


if __name__ == "__main__":
    sys.exit(main())
