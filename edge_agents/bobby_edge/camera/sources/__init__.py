"""Frame sources, found by scheme name: `--source <scheme>[:<target>]`.

A new source is one module in this package that defines a `FrameSource` subclass and
decorates it with `@register`; modules are discovered at first use, and none imports
its heavy dependency (picamera2, PyAV) until the source is opened.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from ...errors import ConfigError
from ...redaction import redact_text
from .base import CaptureError, FrameSource, SourceOptions, VideoOptions

__all__ = ["CaptureError", "FrameSource", "SourceOptions", "VideoOptions", "create", "register", "schemes"]

_REGISTRY: dict[str, type[FrameSource]] = {}
_discovered = False


def register(scheme: str) -> Callable[[type[FrameSource]], type[FrameSource]]:
    def decorate(cls: type[FrameSource]) -> type[FrameSource]:
        if scheme in _REGISTRY and _REGISTRY[scheme] is not cls:
            raise RuntimeError(f"two frame sources claim the scheme {scheme!r}")
        cls.scheme = scheme
        _REGISTRY[scheme] = cls
        return cls

    return decorate


def _discover() -> None:
    global _discovered  # noqa: PLW0603 - a once-only import of this package's modules
    if not _discovered:
        for module in pkgutil.iter_modules(__path__):
            if module.name != "base":
                importlib.import_module(f"{__name__}.{module.name}")
        _discovered = True


def schemes() -> list[str]:
    _discover()
    return sorted(_REGISTRY)


def split_spec(spec: str) -> tuple[str, str]:
    """`images:/srv/pics` → ("images", "/srv/pics"); `http://cam/snap.jpg` → ("http", the URL);
    `rtsp://cam/stream` → ("rtsp", the URL)."""
    scheme, sep, target = spec.partition(":")
    if sep and scheme.lower() in ("http", "https") and target.startswith("//"):
        return "http", spec  # a bare URL is welcome too
    if sep and scheme.lower() in ("rtsp", "rtsps") and target.startswith("//"):
        return scheme.lower(), spec.strip()  # the URL is the target
    return scheme.strip().lower(), target.strip()


def create(spec: str, options: SourceOptions) -> FrameSource:
    """The source named by `spec`; ConfigError (exit code 2) when there is no such scheme."""
    scheme, target = split_spec(spec)
    _discover()
    cls = _REGISTRY.get(scheme)
    if cls is None:
        raise ConfigError(
            f"source {redact_text(spec)!r} is not known: use one of "
            + ", ".join(f"{name}{'' if name == 'picamera' else ':...'}" for name in schemes())
            + " (e.g. images:/srv/pictures, rtsp://cam.local/stream2 or v4l2:/dev/video0)"
        )
    return cls(target, options)
