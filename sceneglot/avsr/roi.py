"""Mouth regions from YuNet's five landmarks, the way the LRW lip-reading models were trained.

The LRW recipe (mpc001/Lipreading_using_Temporal_Convolutional_Networks,
preprocessing/) aligns each face to a 256x256 mean face, smooths the landmark
shape over +-6 frames and cuts 96x96 around the mouth; the network then sees
the central 88x88, scaled to [0, 1] and normalised with mean 0.421, std 0.165.

YuNet gives eyes, nose and mouth corners, not 68 points, so the alignment is
rebuilt from what it has: the mouth corners give the centre and the roll, the
eye distance gives the scale (54.3 px between the eye centres of the mean
face), and one cv2.warpAffine cuts the 96x96 grey crop straight from the frame.

YuNet's (int8) mouth corners are only roughly placed: on the GRID faces they
sit 3-11 px (in crop pixels) off dlib's mouth, above the lips or towards one
cheek. So each frame's centre is refined on the crop itself: vertically to the
darkest row between the corners (the lip slit or the open mouth), horizontally
to the axis about which the lower face is most nearly mirror-symmetric.
As in the recipe, roll and scale are smoothed over time and the centre is the frame's own.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

import cv2
import numpy as np
from scipy.ndimage import gaussian_filter1d

ROI_SIZE = 96
CROP_SIZE = 88
MEAN, STD = 0.421, 0.165  # the recipe's normalisation of [0, 1] grey
EYE_DISTANCE = 54.29  # px between the eye centres of the recipe's 256x256 mean face
# The mean face's mouth centre (mean of dlib points 48-67) sits this far below the
# midpoint of its corners, in mean-face pixels: the crop is centred where the recipe centres it.
MOUTH_DROP = 0.73
SMOOTH = 6  # frames either side, as the recipe's window_margin of 12
SLIT_SEARCH = 16  # crop px above/below the landmark centre searched for the lip slit
SHIFT_SEARCH = 10  # crop px left/right searched for the mirror axis
DETECT_EVERY = 3  # YuNet every 3rd frame: on GRID, 1, 2, 3 and 5 give the same crops within 0.1 px median
HALF_BAND = 14, 24  # half height, half width (crop px) of the region compared with its mirror image


@dataclass(frozen=True)
class MouthPose:
    """Where one frame's mouth crop comes from: centre (source px), roll (radians), source px per crop px."""

    cx: float
    cy: float
    roll: float
    scale: float

    def matrix(self, size: int = ROI_SIZE) -> np.ndarray:
        """2x3 affine map from source pixels to crop pixels (the crop centre is the mouth centre)."""
        c, s = np.cos(self.roll) / self.scale, np.sin(self.roll) / self.scale
        rot = np.array([[c, s], [-s, c]])
        shift = np.array([size / 2, size / 2]) - rot @ np.array([self.cx, self.cy])
        return np.hstack([rot, shift[:, None]])

    def to_crop(self, points: np.ndarray, size: int = ROI_SIZE) -> np.ndarray:
        """Source pixel points (N, 2) in crop pixels."""
        m = self.matrix(size)
        return np.asarray(points, np.float64) @ m[:, :2].T + m[:, 2]


def pose(landmarks: np.ndarray) -> MouthPose:
    """Mouth pose from YuNet's 10 landmark values (right eye, left eye, nose, right mouth, left mouth)."""
    p = np.asarray(landmarks, np.float64).reshape(5, 2)
    right_eye, left_eye, _, right_mouth, left_mouth = p
    along = left_mouth - right_mouth
    roll = float(np.arctan2(along[1], along[0]))
    scale = float(np.linalg.norm(left_eye - right_eye)) / EYE_DISTANCE
    down = np.array([-np.sin(roll), np.cos(roll)])  # the face's "down" in the image
    centre = (right_mouth + left_mouth) / 2 + down * MOUTH_DROP * scale
    return MouthPose(float(centre[0]), float(centre[1]), roll, max(scale, 1e-3))


def cut(grey: np.ndarray, p: MouthPose, size: int = ROI_SIZE) -> np.ndarray:
    """The size x size uint8 mouth crop of a grey frame (bilinear, black outside the frame, as the recipe)."""
    return cv2.warpAffine(grey, p.matrix(size), (size, size), flags=cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT, borderValue=0)


def refine(grey: np.ndarray, p: MouthPose) -> MouthPose:
    """Move the pose's centre onto the mouth seen in the frame (lip slit row, mirror-symmetry axis)."""
    c = cut(grey, p).astype(np.float32)
    mid = ROI_SIZE // 2
    hh, hw = HALF_BAND
    rows = gaussian_filter1d(c[:, mid - 20:mid + 20].mean(axis=1), 2.0)
    dy = int(np.argmin(rows[mid - SLIT_SEARCH:mid + SLIT_SEARCH])) - SLIT_SEARCH
    band = c[mid + dy - hh:mid + dy + hh]
    costs = [float(np.abs(band[:, mid + dx - hw:mid + dx] - band[:, mid + dx:mid + dx + hw][:, ::-1]).mean())
             for dx in range(-SHIFT_SEARCH, SHIFT_SEARCH + 1)]
    dx = int(np.argmin(costs)) - SHIFT_SEARCH
    # Crop pixels back to source pixels: the inverse rotation, times the scale.
    cos, sin = np.cos(p.roll), np.sin(p.roll)
    sx = p.scale * (cos * dx - sin * dy)
    sy = p.scale * (sin * dx + cos * dy)
    return replace(p, cx=p.cx + sx, cy=p.cy + sy)


def smooth(poses: list[MouthPose], radius: int = SMOOTH) -> list[MouthPose]:
    """Roll and scale averaged over +-radius frames (fewer at the ends, as the recipe); centres kept."""
    arr = np.array([_row(q) for q in poses], np.float64)
    out = []
    for i, q in enumerate(poses):
        k = min(radius, i, len(arr) - 1 - i)
        out.append(_shape(q, arr[i - k:i + k + 1].mean(axis=0)))
    return out


def _row(p: MouthPose) -> np.ndarray:
    return np.array([np.cos(p.roll), np.sin(p.roll), p.scale])


def _shape(p: MouthPose, mean: np.ndarray) -> MouthPose:
    return replace(p, roll=float(np.arctan2(mean[1], mean[0])), scale=float(mean[2]))


class Smoother:
    """Streaming form of `smooth`: push a frame's pose, get back frame i - radius's smoothed pose (or None).

    A live source cannot look ahead, so crops come `radius` frames late
    (0.24 s at 25 fps); `flush` gives the last ones with the shrinking window.
    """

    def __init__(self, radius: int = SMOOTH) -> None:
        self.radius = radius
        self._poses: deque[MouthPose] = deque(maxlen=2 * radius + 1)
        self._pushed = 0
        self._emitted = 0

    def push(self, p: MouthPose) -> MouthPose | None:
        self._poses.append(p)
        self._pushed += 1
        return self._emit() if self._pushed > self.radius else None

    def flush(self) -> list[MouthPose]:
        out = []
        while self._emitted < self._pushed:
            out.append(self._emit())
        return out

    def _emit(self) -> MouthPose:
        i, first = self._emitted, self._pushed - len(self._poses)  # deque holds frames first .. pushed - 1
        k = min(self.radius, i, self._pushed - 1 - i)
        window = list(self._poses)[i - k - first:i + k + 1 - first]
        self._emitted += 1
        return _shape(window[k], np.mean([_row(q) for q in window], axis=0))


def network_input(crops: np.ndarray) -> np.ndarray:
    """(T, 96, 96) uint8 crops -> (1, 1, T, 88, 88) float32: central crop, /255, (x - 0.421) / 0.165."""
    crops = np.asarray(crops)
    lo = (ROI_SIZE - CROP_SIZE) // 2
    x = crops[:, lo:lo + CROP_SIZE, lo:lo + CROP_SIZE].astype(np.float32) / 255.0
    return ((x - MEAN) / STD)[None, None]


@dataclass
class Mouth:
    """One frame's mouth: its pose (after refinement and smoothing) and the 96x96 grey crop."""

    index: int
    pose: MouthPose
    crop: np.ndarray


class MouthTracker:
    """Frames in, mouth crops out, `SMOOTH` frames behind (the smoothing window's look-ahead).

    YuNet runs on every `every`-th frame (it is most of the cost); the biggest
    face is the one followed. In between, and on a frame where YuNet finds no
    face, the last pose is refined again on the new frame: refinement finds the
    mouth from the picture, so it follows the lips while roll and scale, which
    change slowly, wait for the next detection. Frames before the first face are
    dropped. Crops are cut from the grey frame the caller passes, or from the
    BGR one converted here.
    """

    def __init__(self, radius: int = SMOOTH, score_threshold: float = 0.6, every: int = DETECT_EVERY) -> None:
        self.radius = radius
        self.every = max(1, every)
        self._count = 0
        self.score_threshold = score_threshold
        self._detector = None
        self._smoother = Smoother(radius)
        self._held: deque[tuple[int, np.ndarray]] = deque()  # (index, grey) waiting for their smoothed pose
        self._last: MouthPose | None = None

    def push(self, index: int, bgr: np.ndarray, grey: np.ndarray | None = None,
             faces: list | None = None) -> list[Mouth]:
        """Crops that are ready; `faces`: this frame's YuNet detections when the caller already has them."""
        from ..vision.faces import FaceDetector

        grey = cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY) if grey is None else grey
        if faces is None:
            if self._detector is None:
                self._detector = FaceDetector((bgr.shape[1], bgr.shape[0]), self.score_threshold)
            due = self._count % self.every == 0 or self._last is None
            faces = self._detector.detect(bgr) if due else []
        self._count += 1
        if faces:
            face = max(faces, key=lambda d: d.width)
            self._last = refine(grey, pose(face.landmarks))
        elif self._last is not None:
            self._last = refine(grey, self._last)
        if self._last is None:
            return []
        self._held.append((index, grey))
        smoothed = self._smoother.push(self._last)
        return [self._emit(smoothed)] if smoothed is not None else []

    def flush(self) -> list[Mouth]:
        return [self._emit(p) for p in self._smoother.flush()]

    def _emit(self, p: MouthPose) -> Mouth:
        index, grey = self._held.popleft()
        return Mouth(index, p, cut(grey, p))
