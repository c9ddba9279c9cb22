"""Event recording: pre-roll ring, encoders, chunks, on-disk spool, delivery to the core."""

from __future__ import annotations

# What to install when PyAV is missing: a dependency of bobby-edge, so this is only met on
# an install made without dependencies or with a broken PyAV.
AV_HINT = (
    "PyAV is not installed (or does not import): `sudo apt install python3-av` on Raspberry Pi OS "
    "(the venv made with --system-site-packages sees it), else `pip install av`"
)


def unavailable() -> str | None:
    """Why recording cannot run here, or None: muxing chunks (and encoding frames) needs PyAV."""
    try:
        import av  # noqa: F401
    except ImportError as err:
        return f"{AV_HINT} ({err})"
    return None
