"""A home's fleet at the protocol level (a separate process): N camera agents and M detectors
as the broker and Home Assistant see them.

    python fleet_publisher.py HOST PORT CAMERAS DETECTORS FPS SECONDS  → prints {"sent": n, ...}

What is simulated: the agents' MQTT messages, exactly as the contract has them — retained
`status`, `info` and `state` for every agent (published before Home Assistant starts, as
agents that already run), then for SECONDS: each camera's `stats` every 10 s, each
detector's `stats` every 5 s (load and capacity_fps), and the detections the detectors
publish for the cameras that see someone (a tenth of them, at their FPS). Frames are not
sent: Home Assistant does not subscribe to them. What is real: Mosquitto, Home Assistant,
its MQTT client and the integration (bench_ha_fleet.py).
"""

from __future__ import annotations

import json
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

CAMERA_STATS_EVERY = 10.0
DETECTOR_STATS_EVERY = 5.0
SEEING = 10  # one camera in SEEING sees a person all the time


def camera_id(index: int) -> str:
    return f"cam{index:03d}"


def detector_id(index: int) -> str:
    return f"det{index}"


def retained(cameras: int, detectors: int, fps: float) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for i in range(cameras):
        agent = camera_id(i)
        info = {
            "v": 1,
            "kind": "camera",
            "id": agent,
            "name": f"Camera {i:03d}",
            "version": "0.1.0",
            "model": "rtsp: rtsp://192.168.1.20:554/stream2",
            "source": "rtsp",
            "resolution": [640, 360],
            "capabilities": ["fps", "preview"],
            "stats_interval": CAMERA_STATS_EVERY,
        }
        out += [
            (f"bobby/camera/{agent}/status", "online"),
            (f"bobby/camera/{agent}/info", json.dumps(info)),
            (f"bobby/camera/{agent}/state", json.dumps({"v": 1, "enabled": True, "fps": fps})),
        ]
    for i in range(detectors):
        agent = detector_id(i)
        info = {
            "v": 1,
            "kind": "detector",
            "id": agent,
            "name": f"Detector {i}",
            "version": "0.1.0",
            "model": "deeplabv3.tflite (segmentation)",
            "resolution": [257, 257],
            "capabilities": ["threshold", "min_area"],
            "stats_interval": DETECTOR_STATS_EVERY,
        }
        state = {"v": 1, "enabled": True, "threshold": 0.5, "min_area": 0.005}
        out += [
            (f"bobby/detector/{agent}/status", "online"),
            (f"bobby/detector/{agent}/info", json.dumps(info)),
            (f"bobby/detector/{agent}/state", json.dumps(state)),
        ]
    return out


def detector_capacity(index: int) -> float:
    return 40.0 + index  # fps: 4 detectors offer 166 fps for 100 cameras at 1 fps


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    cameras, detectors = int(sys.argv[3]), int(sys.argv[4])
    fps, seconds = float(sys.argv[5]), float(sys.argv[6])
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="bench-fleet", protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    while not client.is_connected():
        time.sleep(0.01)
    sent = 0
    for topic, payload in retained(cameras, detectors, fps):
        client.publish(topic, payload, qos=1, retain=True).wait_for_publish(10)
        sent += 1
    print(json.dumps({"retained": sent}), flush=True)  # the bench starts Home Assistant now
    start = time.monotonic()
    tick = 1.0 / fps
    step = 0
    frames = 0
    while time.monotonic() - start < seconds:
        at = start + step * tick
        if (wait := at - time.monotonic()) > 0:
            time.sleep(wait)
        now = time.time()
        for i in range(cameras):
            # Stats spread over the interval, as agents started at different times send them.
            if (step * tick + i * CAMERA_STATS_EVERY / cameras) % CAMERA_STATS_EVERY < tick:
                stats = {"v": 1, "uptime": 3600.0, "fps": fps, "frames_sent": 3600, "capture_errors": 0}
                client.publish(f"bobby/camera/{camera_id(i)}/stats", json.dumps(stats))
                sent += 1
            if i % SEEING == 0:
                detection = {
                    "v": 1,
                    "camera": camera_id(i),
                    "detector": detector_id(i % detectors),
                    "frame_time": round(now - 0.05, 3),
                    "detection_time": round(now, 3),
                    "score": round(0.6 + (step * 7919 + i) % 390 / 1000, 3),
                    "person_count": 1,
                    "boxes": [{"score": 0.8, "box": [0.1, 0.2, 0.4, 0.9]}],
                    "inference_ms": 300.0,
                    "snapshot": False,
                }
                client.publish(f"bobby/camera/{camera_id(i)}/detection", json.dumps(detection), qos=1)
                sent += 1
        frames += cameras
        for d in range(detectors):
            if (step * tick + d * DETECTOR_STATS_EVERY / detectors) % DETECTOR_STATS_EVERY < tick:
                stats = {
                    "v": 1,
                    "uptime": 3600.0,
                    "fps": round(cameras * fps / detectors, 2),
                    "frames_received": frames // detectors,
                    "frames_analysed": frames // detectors,
                    "frames_dropped": 0,
                    "workers": 4,
                    "load": round(cameras * fps / detectors / detector_capacity(d), 3),
                    "capacity_fps": detector_capacity(d),
                }
                client.publish(f"bobby/detector/{detector_id(d)}/stats", json.dumps(stats))
                sent += 1
        step += 1
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": sent, "seconds": round(time.monotonic() - start, 3)}), flush=True)


if __name__ == "__main__":
    main()
