"""Detection messages at a fixed rate, as detectors publish them (a separate process).

    python publisher.py HOST PORT RATE SECONDS CAMERAS   → prints {"sent": n, "seconds": s}

Run as its own process so that publishing costs Home Assistant's process nothing: the
event-loop lag measured there is Home Assistant's and the integration's alone.
"""

from __future__ import annotations

import json
import sys
import time

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion


def main() -> None:
    host, port, rate, seconds, cameras = (
        sys.argv[1],
        int(sys.argv[2]),
        float(sys.argv[3]),
        float(sys.argv[4]),
        int(sys.argv[5]),
    )
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"bench-detector-{rate}", protocol=mqtt.MQTTv5
    )
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    while not client.is_connected():
        time.sleep(0.01)
    interval = 1 / rate
    start = time.monotonic()
    next_at = start
    sent = 0
    while time.monotonic() - start < seconds:
        now = time.monotonic()
        if now < next_at:
            time.sleep(next_at - now)
        camera = f"bench{sent % cameras + 1}"
        stamp = time.time()
        score = round(0.6 + (sent * 7919 % 390) / 1000, 3)  # varies: the score sensor's state changes
        payload = {
            "v": 1,
            "camera": camera,
            "detector": "bench-detector",
            "frame_time": round(stamp - 0.02, 3),
            "detection_time": stamp,
            "score": score,
            "boxes": [{"score": score, "box": [0.0, 0.035, 0.7354, 1.0]}],
            "inference_ms": 17.5,
            "snapshot": False,
        }
        client.publish(f"bobby/camera/{camera}/detection", json.dumps(payload), qos=1)
        sent += 1
        next_at += interval
        if time.monotonic() - next_at > 0.25:
            next_at = time.monotonic()
    elapsed = time.monotonic() - start
    time.sleep(0.5)
    client.disconnect()
    client.loop_stop()
    print(json.dumps({"sent": sent, "seconds": round(elapsed, 3)}))


if __name__ == "__main__":
    main()
