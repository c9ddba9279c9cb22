"""An RTSP camera for the tests: GStreamer's RTSP server paying out an H.264 clip, looped.

Run with Debian's /usr/bin/python3 (it has python3-gi; the test venvs do not):

    /usr/bin/python3 rtsp_server_main.py --port 8554 --clip clip.h264 --sizes clip.sizes --fps 10

The clip is an H.264 Annex-B elementary stream and a text file with the byte size of
each access unit, one per line (tests/support/rtsp_server.py writes both with PyAV).
The access units are pushed as they are, with timestamps that keep rising across
loops, and paid out by rtph264pay: the stream is never re-encoded. With --user and
--password the server asks for HTTP basic authentication, as IP cameras do.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

LAUNCH = (
    "( appsrc name=src is-live=true format=time do-timestamp=false "
    'caps="video/x-h264,stream-format=byte-stream,alignment=au" '
    "! h264parse ! rtph264pay name=pay0 pt=96 config-interval=0 )"
)


def access_units(clip: Path, sizes: Path) -> list[bytes]:
    data = clip.read_bytes()
    units, offset = [], 0
    for line in sizes.read_text().split():
        size = int(line)
        units.append(data[offset : offset + size])
        offset += size
    return units


class ClipFactory(GstRtspServer.RTSPMediaFactory):  # type: ignore[misc]
    """One pipeline per client (not shared): each new session starts on the clip's keyframe."""

    def __init__(self, units: list[bytes], fps: int) -> None:
        super().__init__()
        self.units = units
        self.duration = Gst.SECOND // fps
        self.set_launch(LAUNCH)
        self.set_shared(False)
        self.connect("media-configure", self._configure)

    def _configure(self, _factory: object, media: GstRtspServer.RTSPMedia) -> None:
        source = media.get_element().get_by_name_recurse_up("src")
        counter = {"n": 0}

        def need_data(src: Gst.Element, _length: int) -> None:
            n = counter["n"]
            buffer = Gst.Buffer.new_wrapped(self.units[n % len(self.units)])
            buffer.pts = buffer.dts = n * self.duration
            buffer.duration = self.duration
            counter["n"] = n + 1
            src.emit("push-buffer", buffer)

        source.connect("need-data", need_data)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/stream")
    parser.add_argument("--clip", type=Path, required=True)
    parser.add_argument("--sizes", type=Path, required=True)
    parser.add_argument("--fps", type=int, default=10)
    parser.add_argument("--user")
    parser.add_argument("--password")
    args = parser.parse_args()

    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(str(args.port))
    factory = ClipFactory(access_units(args.clip, args.sizes), args.fps)
    if args.user:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "camera-user")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(args.user, args.password or ""), token)
        server.set_auth(auth)
        permissions = GstRtspServer.RTSPPermissions()
        permissions.add_permission_for_role("camera-user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_ACCESS, True)
        permissions.add_permission_for_role(
            "camera-user", GstRtspServer.RTSP_PERM_MEDIA_FACTORY_CONSTRUCT, True
        )
        factory.set_permissions(permissions)
    server.get_mount_points().add_factory(args.path, factory)
    if server.attach(None) == 0:
        print(f"cannot listen on 127.0.0.1:{args.port}", file=sys.stderr)
        return 1
    loop = GLib.MainLoop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signum, loop.quit)
    print(f"serving rtsp://127.0.0.1:{args.port}{args.path}", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
