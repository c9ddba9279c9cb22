"""JPEG decode and encode cost per frame, for every decoder the detector could use.

Decode targets RGB uint8 (what the model family's preprocess takes). "½" rows decode
at half scale in the DCT domain (libjpeg-turbo's scaled IDCT), which is the detector's
path for 640×480 and 1280×720 frames (the model input is 257×257). The last decode row
is the detector's own `decode.decode()`: payload checks, header, scaled decode and the
nearest-neighbour resize to the model input — the whole per-frame decode cost.
Each figure is the median of `repeats` rounds of `number` calls, in ms per frame.
"""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MODEL_INPUT = (257, 257)


def _time(fn: Callable[[], Any], number: int, repeats: int) -> float:
    fn()
    rounds = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        rounds.append((time.perf_counter() - start) * 1000 / number)
    rounds.sort()
    return rounds[len(rounds) // 2]


def decoders() -> dict[str, Callable[[bytes], Any]]:
    from PIL import Image

    def pillow(jpeg: bytes) -> Any:
        with Image.open(io.BytesIO(jpeg)) as im:
            return np.asarray(im.convert("RGB"))

    def pillow_draft(jpeg: bytes) -> Any:
        with Image.open(io.BytesIO(jpeg)) as im:
            im.draft("RGB", (im.width // 2, im.height // 2))
            return np.asarray(im.convert("RGB"))

    out: dict[str, Callable[[bytes], Any]] = {"Pillow": pillow, "Pillow draft ½": pillow_draft}
    try:
        import simplejpeg

        def sj(jpeg: bytes) -> Any:
            return simplejpeg.decode_jpeg(jpeg, colorspace="RGB")

        def sj_half(jpeg: bytes) -> Any:
            h, w, _c, _s = simplejpeg.decode_jpeg_header(jpeg)
            return simplejpeg.decode_jpeg(jpeg, colorspace="RGB", min_width=w // 2, min_height=h // 2)

        out["simplejpeg"] = sj
        out["simplejpeg ½"] = sj_half
    except ImportError:
        pass
    try:
        from turbojpeg import TJPF_RGB, TurboJPEG

        tj = TurboJPEG()

        def turbo(jpeg: bytes) -> Any:
            return tj.decode(jpeg, pixel_format=TJPF_RGB)

        def turbo_half(jpeg: bytes) -> Any:
            return tj.decode(jpeg, pixel_format=TJPF_RGB, scaling_factor=(1, 2))

        out["PyTurboJPEG"] = turbo
        out["PyTurboJPEG ½"] = turbo_half
    except (ImportError, RuntimeError, OSError):
        pass
    try:
        import cv2

        def cv(jpeg: bytes) -> Any:
            bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_COLOR)
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

        def cv_half(jpeg: bytes) -> Any:
            bgr = cv2.imdecode(np.frombuffer(jpeg, np.uint8), cv2.IMREAD_REDUCED_COLOR_2)
            return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

        out["OpenCV"] = cv
        out["OpenCV ½"] = cv_half
    except ImportError:
        pass
    from bobby_edge.detector import decode

    out[f"detector decode.decode() → {MODEL_INPUT[0]}² ({decode.decoder_name()})"] = lambda jpeg: (
        decode.decode(jpeg, MODEL_INPUT, 10_000_000)
    )
    return out


def encoders() -> dict[str, Callable[[Any], bytes]]:
    from PIL import Image

    def pillow(rgb: Any) -> bytes:
        out = io.BytesIO()
        Image.fromarray(rgb).save(out, "JPEG", quality=80)
        return out.getvalue()

    enc: dict[str, Callable[[Any], bytes]] = {"Pillow": pillow}
    try:
        import simplejpeg

        enc["simplejpeg"] = lambda rgb: simplejpeg.encode_jpeg(rgb, quality=80, colorspace="RGB")
    except ImportError:
        pass
    try:
        from turbojpeg import TJPF_RGB, TurboJPEG

        tj = TurboJPEG()
        enc["PyTurboJPEG"] = lambda rgb: tj.encode(rgb, quality=80, pixel_format=TJPF_RGB)
    except (ImportError, RuntimeError, OSError):
        pass
    try:
        import cv2

        enc["OpenCV"] = lambda rgb: cv2.imencode(
            ".jpg", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80]
        )[1].tobytes()
    except ImportError:
        pass
    return enc


def run(quick: bool) -> dict[str, Any]:
    from PIL import Image
    from skimage import data

    number, repeats = (10, 5) if quick else (50, 9)
    sizes = [(640, 480), (1280, 720)]
    rgbs = {
        size: np.asarray(Image.fromarray(data.astronaut()).resize(size, Image.Resampling.BILINEAR))
        for size in sizes
    }
    jpegs = {}
    for size, rgb in rgbs.items():
        out = io.BytesIO()
        Image.fromarray(rgb).save(out, "JPEG", quality=80)
        jpegs[size] = out.getvalue()
    result: dict[str, Any] = {
        "decode": {},
        "encode": {},
        "frame_bytes": {f"{w}x{h}": len(j) for (w, h), j in jpegs.items()},
    }
    for name, fn in decoders().items():
        result["decode"][name] = {
            f"{w}x{h}": round(_time(lambda j=jpegs[(w, h)], f=fn: f(j), number, repeats), 3) for w, h in sizes
        }
    for name, fn in encoders().items():
        result["encode"][name] = {
            f"{w}x{h}": round(_time(lambda r=rgbs[(w, h)], f=fn: f(r), number, repeats), 3) for w, h in sizes
        }
    return result
