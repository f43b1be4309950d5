"""`--quality fast|balanced|best`: which H.264 encoder a render uses, and with what settings.

Each quality names a libx264 setting and, for NVIDIA cards, an NVENC one of similar intent;
`encoders` lists them in order of preference for what this machine has, and the video writer
uses the first that opens. A whole render of cut2 (1280x720, 25 fps, 12.8 s; decode, draw and
encode; `benchmarks/render.py`, 2-core CPU under load) took 4.4 / 5.2 / 13.5 CPU seconds and
wrote 2.32 / 1.44 / 1.79 MB at fast / balanced / best. "balanced" is what every render used
before the option existed (veryfast, crf 20).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from ..errors import InputError

if TYPE_CHECKING:
    from ..media import Encoder

QUALITIES = ("fast", "balanced", "best")
DEFAULT = "balanced"

_X264 = {
    "fast": (("crf", "21"), ("preset", "superfast")),
    "balanced": (("crf", "20"), ("preset", "veryfast")),
    "best": (("crf", "18"), ("preset", "slow")),
}
# NVENC (FFmpeg's p1..p7 presets, constant quality in VBR mode with no bitrate cap).
_NVENC = {
    "fast": (("preset", "p1"), ("tune", "hq"), ("rc", "vbr"), ("cq", "23"), ("b", "0")),
    "balanced": (("preset", "p4"), ("tune", "hq"), ("rc", "vbr"), ("cq", "21"), ("b", "0")),
    "best": (("preset", "p7"), ("tune", "hq"), ("rc", "vbr"), ("cq", "19"), ("b", "0")),
}


def check(quality: str) -> str:
    if quality not in QUALITIES:
        raise InputError(f"unknown quality {quality!r}: use one of {', '.join(QUALITIES)}")
    return quality


def encoders(quality: str, codecs: Collection[str], cuda: bool) -> tuple[Encoder, ...]:
    """The encoders to try for `quality`, best first: NVENC when FFmpeg has it and a CUDA device is present.

    `codecs` is what this FFmpeg build has (`av.codecs_available`), `cuda` whether an NVIDIA GPU
    is present (`models.cuda_present()`). libx264 always closes the list: an NVENC that does not
    open (no driver, sessions used up) falls back to it.
    """
    from ..media import Encoder  # not at import: the CLI's options read QUALITIES

    check(quality)
    x264 = Encoder("libx264", _X264[quality])
    if cuda and "h264_nvenc" in codecs:
        return Encoder("h264_nvenc", _NVENC[quality]), x264
    return (x264,)


def for_machine(quality: str) -> tuple[Encoder, ...]:
    """`encoders` for this machine's FFmpeg and GPU."""
    import av

    from .. import models

    return encoders(quality, av.codecs_available, models.cuda_present())
