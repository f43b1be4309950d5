"""Light-ASD inputs, prepared exactly as ../shared/models/light-asd/SPEC.md describes.

Video: per-frame face boxes at 25 fps -> median-smoothed centre and size ->
a crop reaching below the chin, padded with grey 110 -> 224x224 -> grey ->
central 112x112. Audio: 13 MFCC at 100 Hz (python_speech_features defaults)
on int16-scaled samples, so exactly 4 rows per video frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..media import SAMPLE_RATE

FPS = 25
MFCC_RATE = 100
STEPS_PER_FRAME = MFCC_RATE // FPS
CROP_SCALE = 0.4  # the reference's `cs`: how far the window reaches beyond the face
PAD_VALUE = 110
MEDIAN = 13
_EPS = 1e-4
MOUTH_PATCH = (32, 16)  # (width, height) the mouth is resized to before frames are compared


@dataclass
class CropGeometry:
    """Per 25-fps frame of one track: smoothed centre (x, y) and half-size s, in source pixels."""

    times: np.ndarray
    x: np.ndarray
    y: np.ndarray
    s: np.ndarray


def frame_times(start: float, end: float, fps: int = FPS) -> np.ndarray:
    """The 25-fps ticks k/fps that fall inside [start, end] (the frames media.iter_frames(fps=25) yields)."""
    first = int(np.ceil(start * fps - _EPS))
    last = int(np.floor(end * fps + _EPS))
    return np.arange(first, last + 1) / fps


def geometry(boxes: list[list[float]], start: float, end: float) -> CropGeometry:
    """Resample a track's `[t, x0, y0, x1, y1]` rows to 25 fps by time, then median-filter over 13 frames."""
    rows = np.asarray(boxes, dtype=np.float64).reshape(-1, 5)
    times = frame_times(start, end)
    if len(rows) == 0 or len(times) == 0:
        empty = np.zeros(0)
        return CropGeometry(empty, empty, empty, empty)
    order = np.argsort(rows[:, 0])
    rows = rows[order]
    cols = [np.interp(times, rows[:, 0], rows[:, k]) for k in range(1, 5)]
    x0, y0, x1, y1 = cols
    s = np.maximum(x1 - x0, y1 - y0) / 2
    return CropGeometry(times=times, x=_median((x0 + x1) / 2), y=_median((y0 + y1) / 2), s=_median(s))


def _median(values: np.ndarray) -> np.ndarray:
    """The reference's 13-frame median (scipy's medfilt, zero-padded at the ends).

    On a track shorter than 7 frames the zero padding would win every window and
    collapse the box to 0, so short tracks take their overall median instead.
    The windows' medians are numpy's (an odd window: its middle value, as medfilt picks it), not
    scipy.signal's medfilt: importing scipy.signal took ~1 CPU-s (3.0 s wall, busy) at the job's start,
    before the speech thread starts and the faces stage runs.
    """
    if len(values) <= MEDIAN // 2:
        return np.full_like(values, np.median(values))
    padded = np.pad(values, MEDIAN // 2)
    return np.median(np.lib.stride_tricks.sliding_window_view(padded, MEDIAN), axis=1).astype(values.dtype)


def crop_window(h: int, w: int, x: float, y: float, s: float) -> tuple[int, int, int, int, int]:
    """The reference's crop window for a face at (x, y) of size s in an h x w frame: (pad, r0, r1, c0, c1),
    slice bounds in the frame padded by `pad`, clipped as numpy slicing would clip them."""
    bs = float(s)
    pad = int(bs * (1 + 2 * CROP_SCALE))
    my, mx = y + pad, x + pad
    r0 = min(max(int(my - bs), 0), h + 2 * pad)
    r1 = min(max(int(my + bs * (1 + 2 * CROP_SCALE)), 0), h + 2 * pad)
    c0 = min(max(int(mx - bs * (1 + CROP_SCALE)), 0), w + 2 * pad)
    c1 = min(max(int(mx + bs * (1 + CROP_SCALE)), 0), w + 2 * pad)
    return pad, r0, r1, c0, c1


def crop_face(image: np.ndarray, x: float, y: float, s: float) -> np.ndarray:
    """One 112x112 uint8 grey crop: the reference's pad-then-slice, done without padding the whole frame.

    `image` is BGR (H, W, 3) or already grey (H, W); grey input is resized as is, a third of the work.
    """
    h, w = image.shape[:2]
    pad, r0, r1, c0, c1 = crop_window(h, w, x, y, s)
    if r1 - r0 < 1 or c1 - c0 < 1:
        return np.full((112, 112), PAD_VALUE, np.uint8)
    window = np.full((r1 - r0, c1 - c0, *image.shape[2:]), PAD_VALUE, np.uint8)
    # Overlap of the window with the real frame, in padded coordinates.
    sr0, sr1 = max(r0, pad), min(r1, pad + h)
    sc0, sc1 = max(c0, pad), min(c1, pad + w)
    if sr1 > sr0 and sc1 > sc0:
        window[sr0 - r0:sr1 - r0, sc0 - c0:sc1 - c0] = image[sr0 - pad:sr1 - pad, sc0 - pad:sc1 - pad]
    face = cv2.resize(window, (224, 224))
    grey = face if face.ndim == 2 else cv2.cvtColor(face, cv2.COLOR_BGR2GRAY)
    return np.ascontiguousarray(grey[56:168, 56:168])


WIN, HOP = 400, 160  # 25 ms windows every 10 ms, in samples
BLOCK_ROWS = 3000  # MFCC rows computed at once: python_speech_features holds ~20 KB per row while it works


def mfcc_rows(n_samples: int) -> int:
    """How many MFCC rows `mfcc` gives for that many samples (python_speech_features' framing)."""
    if n_samples < WIN:
        return 0
    return 1 + -(-(n_samples - WIN) // HOP)


def mfcc(audio: np.ndarray, first: int = 0, count: int | None = None) -> np.ndarray:
    """(N, 13) float32 MFCC rows at 100 Hz of 16 kHz mono float audio, computed at int16 scale.

    Rows `first` .. `first + count` (to the end by default) of the whole soundtrack's MFCC, equal
    to slicing it, computed BLOCK_ROWS at a time: every row depends only on its own 25 ms (after
    the pre-emphasis, done here with the sample before each block), so memory stays ~60 MB
    however long the audio, and a track's span costs only its own rows.
    """
    from python_speech_features import mfcc as psf_mfcc

    total = mfcc_rows(len(audio))
    first = min(max(0, first), total)
    stop = total if count is None else min(total, first + max(0, count))
    out = np.zeros((stop - first, 13), np.float32)
    for r0 in range(first, stop, BLOCK_ROWS):
        r1 = min(stop, r0 + BLOCK_ROWS)
        a, b = r0 * HOP, min(len(audio), (r1 - 1) * HOP + WIN)
        pcm = np.clip(np.round(np.asarray(audio[max(0, a - 1):b], np.float64) * 32768.0), -32768, 32767)
        pcm = pcm.astype(np.int16).astype(np.float64)
        pre = pcm[1:] - 0.97 * pcm[:-1] if a > 0 else np.append(pcm[0], pcm[1:] - 0.97 * pcm[:-1])
        feats = psf_mfcc(pre, SAMPLE_RATE, numcep=13, winlen=0.025, winstep=0.010, preemph=0)
        out[r0 - first:r1 - first] = feats[: r1 - r0]
    return out


# Rows and columns of the mouth in a Light-ASD crop (features.crop_face: the 112x112 window spans
# about 0.3 face half-sizes above the box centre to 1.1 below it, and 0.7 either side).
CROP_MOUTH = (slice(40, 92), slice(20, 92))


def crop_mouth(crop: np.ndarray) -> np.ndarray:
    """The normalised mouth patch of a Light-ASD face crop (as lipmotion measures it on whole frames)."""
    patch = cv2.resize(crop[CROP_MOUTH], MOUTH_PATCH, interpolation=cv2.INTER_AREA).astype(np.float32)
    return (patch - patch.mean()) / (patch.std() + 1.0)
