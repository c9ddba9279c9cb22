"""`images:DIR`: loops over the JPEG and PNG files of a folder, in name order (demos, tests)."""

from __future__ import annotations

import logging
from pathlib import Path

from ...errors import ConfigError, StartupError
from . import register
from .base import CaptureError, FrameSource, SourceOptions, to_sized_jpeg

_LOGGER = logging.getLogger(__name__)

SUFFIXES = frozenset({".jpg", ".jpeg", ".png"})
CACHE_LIMIT = 64 * 1024 * 1024  # encoded frames kept in memory, so a loop costs no re-encoding


@register("images")
class ImageFolderSource(FrameSource):
    def __init__(self, target: str, options: SourceOptions) -> None:
        super().__init__(target, options)
        self.folder = Path(target).expanduser()
        self._files: list[Path] = []
        self._index = 0
        self._cache: dict[tuple[Path, int, int], bytes] = {}
        self._cached_bytes = 0

    @property
    def description(self) -> str:
        return f"images: {self.folder}"

    def _scan(self) -> list[Path]:
        return sorted(p for p in self.folder.iterdir() if p.suffix.lower() in SUFFIXES and p.is_file())

    def open(self) -> None:
        if not self.target:
            raise ConfigError("source images: needs a folder, e.g. --source images:/srv/pictures")
        if not self.folder.is_dir():
            raise ConfigError(f"source images:{self.target}: folder {self.folder} does not exist")
        self._files = self._scan()
        if not self._files:
            raise StartupError(f"folder {self.folder} holds no .jpg, .jpeg or .png files: add some images")
        _LOGGER.info("looping over %d images in %s", len(self._files), self.folder)

    def read(self) -> bytes:
        if self._index >= len(self._files):
            # Rescan at the end of each pass: files added or removed since are picked up.
            self._files = self._scan()
            self._index = 0
            if not self._files:
                raise CaptureError(f"folder {self.folder} has no images left")
        path = self._files[self._index]
        self._index += 1
        try:
            stat = path.stat()
            key = (path, stat.st_mtime_ns, stat.st_size)
            frame = self._cache.get(key)
            if frame is None:
                frame = to_sized_jpeg(path.read_bytes(), self.size, self.options.jpeg_quality)
                if self._cached_bytes + len(frame) <= CACHE_LIMIT:
                    self._cache[key] = frame
                    self._cached_bytes += len(frame)
            return frame
        except (OSError, ValueError) as err:
            raise CaptureError(f"cannot use image {path}: {err}") from None
