"""Grey face regions the faces pass keeps for active speaker detection, so ASD decodes no video.

Light-ASD's crop follows the track's final, median-smoothed box, which exists only once the
faces pass is over; the faces pass decodes every frame anyway. So while it runs it keeps, for
every face being tracked, a square of the full-size grey picture around the face's latest box,
on every frame the 25-fps ASD grid samples: 1.9 face half-sizes wide (the crop needs 1.4 of
them; the rest is slack for the smoothing to move or grow the box: on the shared scenes no crop
reached past it), at source resolution up to 160 pixels per half-size (twice the crop's own
80), uint8. ASD then cuts its 112x112 crop from that square with the same bilinear sampling
`features.crop_face` uses on the frame, and grey 110 where the frame ends. Squares go to an
unlinked spool file (in the job folder; at most 92 KB a face and frame, 20-50 MB for a shared
scene), so memory holds only their index.

Faces under 160 pixels per half-size (all but close-ups at 720p) are kept pixel for pixel, and
their crops equal the decoded ones within rounding (scores within 0.01 on cut2); larger ones
are resampled twice (mean score change 0.025-0.04, at most 0.18, no sign change, on cut4,
twoshot and dialogue).
"""

from __future__ import annotations

import math
import os
import tempfile
from dataclasses import dataclass, field

import cv2
import numpy as np

from .. import media
from .features import FPS, PAD_VALUE, crop_window

SLACK = 0.95  # half the kept square's side, in face half-sizes (the crop needs 0.7)
DROP = 0.4  # the square's centre is this many half-sizes below the box's (the crop reaches below the chin)
DENSITY = 160.0  # most pixels kept per face half-size: twice the crop's own 80
_EPS = 1e-4


@dataclass
class _Entry:
    time: float
    offset: int  # byte offset in the spool
    side: int  # square side in kept pixels
    x0: float  # source position of kept pixel (0, 0)
    y0: float
    scale: float  # kept pixels per source pixel (<= 1)


@dataclass
class FaceCrops:
    """Per face-track key, the kept squares in time order; `names` maps final track ids to keys.

    The store of an input of one faces window (pipeline.analyze; a long input's is windows.WindowSpeakers,
    with the same two calls the pipeline makes): `served()` None, since no track was scored ahead and the
    asd stage cuts every crop from these squares; `close()` drops the spool.
    """

    folder: str | os.PathLike | None = None
    fps: float = 25.0  # the source's frame rate: which frames the 25-fps grid samples
    entries: dict[int, list[_Entry]] = field(default_factory=dict)
    names: dict[str, int] = field(default_factory=dict)
    outside: int = 0  # crops that reached past their square (filled with grey 110)
    crops: int = 0
    frame: tuple[int, int] = (0, 0)  # (height, width) of the grey frames

    def __post_init__(self) -> None:
        # Open for the store's life (closed by close()); unlinked at once, so a crash leaves nothing.
        self._file = tempfile.TemporaryFile(dir=self.folder, prefix=".sceneglot-crops-", buffering=0)  # noqa: SIM115
        self._size = 0

    def served(self) -> None:
        """Tracks scored ahead of the asd stage: none (windows.WindowSpeakers.served gives a long input's)."""
        return None

    def close(self) -> None:
        self._file.close()

    def sampled(self, t: float) -> bool:
        """Whether the frame shown from `t` for one source frame is on screen at a 25-fps tick."""
        tick = math.ceil(t * FPS - _EPS)
        return tick / FPS < t + 1.0 / max(self.fps, 1e-6) - _EPS

    def add(self, key: int, t: float, luma: np.ndarray | media.Frame, box) -> None:
        """Keep the square around `box` (source pixels x0, y0, x1, y1) of the grey frame shown at `t`.

        `luma`: that grey frame, or the decoded `media.Frame` (kept with keep_source), of which only
        the part under the square is made grey: range-expanding whole 720p frames cost the faces
        pass more than cutting the squares did.
        """
        self.frame = luma.shape[:2] if isinstance(luma, np.ndarray) else luma.luma_shape
        x0, y0, x1, y1 = (float(v) for v in box)
        half = max(x1 - x0, y1 - y0) / 2
        if half <= 0:
            return
        scale = min(1.0, DENSITY / half)
        side = max(2, math.ceil(2 * SLACK * half * scale))
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2 + DROP * half
        ox, oy = cx - side / (2 * scale), cy - side / (2 * scale)
        if scale == 1.0:  # pixel for pixel: whole-pixel origin, so the square is a plain copy
            ox, oy = math.floor(ox), math.floor(oy)
        part, rx0, ry0 = luma, 0, 0
        if not isinstance(luma, np.ndarray):
            # Only the source pixels the bilinear samples can read, with 2 to spare: the square cut from
            # them (its origin shifted by whole pixels) is the one cut from the whole grey frame.
            h, w = self.frame
            rx0, ry0 = min(w, max(0, math.floor(ox) - 2)), min(h, max(0, math.floor(oy) - 2))
            rx1 = max(rx0, min(w, math.ceil(ox + side / scale) + 2))
            ry1 = max(ry0, min(h, math.ceil(oy + side / scale) + 2))
            part = luma.luma((rx0, ry0, rx1, ry1)) if rx1 > rx0 and ry1 > ry0 else None
        if part is None:  # the square lies wholly outside the frame
            square = np.full((side, side), PAD_VALUE, np.uint8)
        else:
            m = np.array([[1 / scale, 0, ox - rx0], [0, 1 / scale, oy - ry0]], np.float64)
            square = cv2.warpAffine(part, m, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_CONSTANT, borderValue=PAD_VALUE)
        self._file.write(square.tobytes())
        self.entries.setdefault(key, []).append(_Entry(t, self._size, side, ox, oy, scale))
        self._size += side * side

    def has(self, track_id: str) -> bool:
        return self.names.get(track_id) in self.entries

    def crop(self, track_id: str, t: float, x: float, y: float, s: float) -> np.ndarray:
        """The 112x112 Light-ASD crop of track `track_id` at tick time `t` (centre x, y, half-size s)."""
        entries = self.entries[self.names[track_id]]
        i = _last_at(entries, t)
        e = entries[i]
        square = np.frombuffer(os.pread(self._file.fileno(), e.side * e.side, e.offset), np.uint8)
        square = square.reshape(e.side, e.side)
        self.crops += 1
        return self._cut(square, e, x, y, s)

    def _cut(self, square: np.ndarray, e: _Entry, x: float, y: float, s: float) -> np.ndarray:
        # features.crop_face's window, in source pixels (its padded frame shifted back by `pad`).
        pad, r0, r1, c0, c1 = crop_window(*self.frame, x, y, s)
        if r1 - r0 < 1 or c1 - c0 < 1:
            return np.full((112, 112), PAD_VALUE, np.uint8)
        # crop_face resizes the window to 224x224 and keeps its centre: output pixel u samples window
        # position (u + 56 + 0.5) * width / 224 - 0.5 (OpenCV's pixel-centre convention).
        fx, fy = (c1 - c0) / 224, (r1 - r0) / 224
        ax = c0 - pad + 56.5 * fx - 0.5  # source x of output pixel 0
        ay = r0 - pad + 56.5 * fy - 0.5
        m = np.array([[fx * e.scale, 0, (ax - e.x0) * e.scale], [0, fy * e.scale, (ay - e.y0) * e.scale]])
        lo_x, hi_x = m[0, 2], m[0, 2] + 111 * m[0, 0]
        lo_y, hi_y = m[1, 2], m[1, 2] + 111 * m[1, 1]
        if lo_x < -0.5 or lo_y < -0.5 or hi_x > e.side - 0.5 or hi_y > e.side - 0.5:
            self.outside += 1
        return cv2.warpAffine(square, m, (112, 112), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_CONSTANT, borderValue=PAD_VALUE)


def _last_at(entries: list[_Entry], t: float) -> int:
    """Index of the last entry shown at or before `t` (the first when `t` is earlier)."""
    lo, hi = 0, len(entries)
    while lo < hi:
        mid = (lo + hi) // 2
        if entries[mid].time <= t + _EPS:
            lo = mid + 1
        else:
            hi = mid
    return max(0, lo - 1)
