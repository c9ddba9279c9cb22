"""A home-scale fleet at the protocol level, in one process: camera and detector agents as
MQTT clients that publish what the real agents publish (docs/protocol.md).

    python fleet.py HOST PORT CAMERAS DETECTORS PERSON_CAMERAS SECONDS

Each camera agent has its own MQTT connection (client id, last will, retained status, info
and state), publishes a JPEG frame per second (`frame`, to the detectors' shared
subscription), a preview every 5 s, stats every 10 s, and obeys `set` with an `ack` as a
real agent does. Each detector has its own connection, takes frames through the MQTT v5
shared subscription `$share/bobby-detectors/bobby/camera/+/frame` (the broker spreads
them), publishes a detection for each frame of a camera that sees a person, and its stats.
Nothing is decoded or inferred: what is simulated is the agents' processing, not their
traffic. Prints `ready` once every agent has announced itself, then, at the end, one JSON
line with what was sent.
"""

from __future__ import annotations

import io
import json
import random
import sys
import threading
import time
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from PIL import Image

BASE = "bobby"
GROUP = "bobby-detectors"
STATS_INTERVAL = 10.0
DETECTOR_CAPACITY = 41.5  # fps: what a Pi 5 detector might report
PREVIEW_INTERVAL = 5.0


def _jpeg(width: int, height: int, seed: int) -> bytes:
    """A noisy picture (noise does not compress: a frame of realistic size)."""
    rng = random.Random(seed)
    image = Image.frombytes("L", (width, height), bytes(rng.getrandbits(8) for _ in range(width * height)))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, "JPEG", quality=60)
    return buffer.getvalue()


class Agent:
    """One agent: its own connection, last will, retained announcement, `set` → `ack`."""

    def __init__(self, host: str, port: int, kind: str, agent_id: str, info: dict[str, Any]) -> None:
        self.kind, self.agent_id = kind, agent_id
        self.topic = f"{BASE}/{kind}/{agent_id}"
        self.state: dict[str, Any] = {"v": 1, "enabled": True}
        if kind == "camera":
            self.state["fps"] = 1.0
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"{kind}-{agent_id}", protocol=mqtt.MQTTv5
        )
        self.client.max_queued_messages_set(0)
        self.client.will_set(f"{self.topic}/status", "offline", qos=1, retain=True)
        self.client.on_connect = self._on_connect
        self.client.on_message = self._on_message
        self.info = {"v": 1, "kind": kind, "id": agent_id, "version": "0.1.0", **info}
        self.announced = threading.Event()
        self.client.connect(host, port)
        self.client.loop_start()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe(f"{self.topic}/set", qos=1)
        client.publish(f"{self.topic}/info", json.dumps(self.info), qos=1, retain=True)
        client.publish(f"{self.topic}/state", json.dumps(self.state), qos=1, retain=True)
        client.publish(f"{self.topic}/status", "online", qos=1, retain=True).wait_for_publish(30)
        self.announced.set()

    def _on_message(self, client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        if message.topic.endswith("/set"):
            command = json.loads(message.payload)
            self.state.update({k: command[k] for k in ("enabled", "fps", "threshold") if k in command})
            client.publish(f"{self.topic}/state", json.dumps(self.state), qos=1, retain=True)
            ack = {"v": 1, "id": command.get("id"), "ok": True, "state": self.state}
            client.publish(f"{self.topic}/ack", json.dumps(ack), qos=1)

    def stats(self, payload: dict[str, Any]) -> None:
        self.client.publish(f"{self.topic}/stats", json.dumps({"v": 1, **payload}), qos=0)

    def close(self) -> None:
        self.client.publish(f"{self.topic}/status", "offline", qos=1, retain=True).wait_for_publish(5)
        self.client.disconnect()
        self.client.loop_stop()


class Detector(Agent):
    """Frames in through the shared subscription; a detection for each frame of a person camera."""

    def __init__(self, host: str, port: int, agent_id: str, person_cameras: set[str]) -> None:
        self.person_cameras = person_cameras
        self.received = 0
        self.detections = 0
        self.lock = threading.Lock()
        info = {
            "model": "simulated (segmentation)",
            "resolution": [257, 257],
            "stats_interval": STATS_INTERVAL,
        }
        super().__init__(host, port, "detector", agent_id, info | {"capabilities": ["threshold", "min_area"]})
        self.state.update({"threshold": 0.5, "min_area": 0.0})

    def _on_connect(self, client: mqtt.Client, *rest: Any) -> None:
        client.subscribe(f"$share/{GROUP}/{BASE}/camera/+/frame", qos=0)
        super()._on_connect(client, *rest)

    def _on_message(self, client: mqtt.Client, userdata: Any, message: mqtt.MQTTMessage) -> None:
        if not message.topic.endswith("/frame"):
            super()._on_message(client, userdata, message)
            return
        camera = message.topic.split("/")[2]
        with self.lock:
            self.received += 1
        if camera in self.person_cameras:
            now = time.time()
            detection = {
                "v": 1,
                "camera": camera,
                "detector": self.agent_id,
                "frame_time": round(now - 0.05, 3),
                "detection_time": round(now, 3),
                "score": 0.9,
                "person_count": 1,
                "boxes": [{"score": 0.9, "box": [0.3, 0.2, 0.5, 0.9]}],
                "inference_ms": 25.0,
                "snapshot": False,
            }
            client.publish(f"{BASE}/camera/{camera}/detection", json.dumps(detection), qos=1)
            with self.lock:
                self.detections += 1


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    cameras, detectors, person_count = int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
    seconds = float(sys.argv[6])
    camera_ids = [f"cam{n:03d}" for n in range(1, cameras + 1)]
    person_cameras = set(camera_ids[:person_count])
    frame = _jpeg(640, 360, 1)  # ~ the size of a 640x360 frame of a real scene
    preview = _jpeg(320, 180, 2)
    camera_info = {
        "model": "simulated",
        "resolution": [640, 360],
        "capabilities": ["fps", "preview", "record"],
        "stats_interval": STATS_INTERVAL,
    }
    fleet = [Detector(host, port, f"det{n}", person_cameras) for n in range(1, detectors + 1)]
    fleet += [Agent(host, port, "camera", c, camera_info | {"name": f"Camera {c}"}) for c in camera_ids]
    for agent in fleet:
        if not agent.announced.wait(60):
            sys.exit(f"{agent.topic} did not connect")
    print("ready", flush=True)

    started = time.monotonic()
    frames = previews = 0
    tick = 0
    while time.monotonic() - started < seconds:
        next_tick = started + tick + 1
        for agent in fleet:
            if agent.kind == "camera":
                # Frames at 1 fps, spread over the second as independent cameras are.
                agent.client.publish(f"{agent.topic}/frame", frame, qos=0)
                frames += 1
                if tick % PREVIEW_INTERVAL == 0:
                    agent.client.publish(f"{agent.topic}/preview", preview, qos=0, retain=True)
                    previews += 1
            if tick % STATS_INTERVAL == 0:
                if isinstance(agent, Detector):
                    with agent.lock:
                        received = agent.received
                    agent.stats(
                        {
                            "uptime": tick,
                            "fps": 0.0,
                            "frames_received": received,
                            "frames_analysed": received,
                            "frames_dropped": 0,
                            "workers": 2,
                            "load": 0.6,
                            "capacity_fps": DETECTOR_CAPACITY,
                        }
                    )
                else:
                    agent.stats(
                        {
                            "uptime": tick,
                            "fps": 1.0,
                            "frames_sent": tick,
                            "capture_errors": 0,
                            "fps_target": 1.0,
                            "problems": [],
                        }
                    )
            time.sleep(max(0.0, (next_tick - time.monotonic()) / (2 * len(fleet))))
        tick += 1
        time.sleep(max(0.0, next_tick - time.monotonic()))
    detectors_only = [a for a in fleet if isinstance(a, Detector)]
    result = {
        "seconds": round(time.monotonic() - started, 1),
        "frames": frames,
        "previews": previews,
        "frames_received_by_detectors": sum(d.received for d in detectors_only),
        "detections": sum(d.detections for d in detectors_only),
    }
    for agent in fleet:
        agent.close()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
