"""Small JPEG crops of each person's face, so the page can offer "move this phrase to that face".

The crop is taken from the frame where the person's face is largest, with
some margin; crops are kept in memory per job and dropped when scene.json changes.
"""

from __future__ import annotations

import threading
from pathlib import Path

_cache: dict[tuple[str, str], tuple[float, bytes | None]] = {}
_lock = threading.Lock()
HEIGHT = 96  # pixels of the served crop
MARGIN = 0.25  # of the box size, on each side


def forget(job_id: str) -> None:
    with _lock:
        for key in [k for k in _cache if k[0] == job_id]:
            del _cache[key]


def crop(job_id: str, video: Path, scene_path: Path, person: str) -> bytes | None:
    """JPEG bytes of `person`'s largest face box in `video`, or None when the scene has no such face."""
    stamp = scene_path.stat().st_mtime
    with _lock:
        hit = _cache.get((job_id, person))
    if hit and hit[0] == stamp:
        return hit[1]
    data = _make(video, scene_path, person)
    with _lock:
        _cache[(job_id, person)] = (stamp, data)
    return data


def _make(video: Path, scene_path: Path, person: str) -> bytes | None:
    import cv2

    from .. import media
    from .. import scene as scene_io

    scene = scene_io.load(scene_path)
    boxes = [row for t in scene.tracks if t.person == person for row in t.boxes]
    if not boxes:
        return None
    t, x0, y0, x1, y1 = max(boxes, key=lambda r: (r[3] - r[1]) * (r[4] - r[2]))
    frame = next(media.iter_frames(video, start=t), None)
    if frame is None:
        return None
    h, w = frame.image.shape[:2]
    mx, my = (x1 - x0) * MARGIN, (y1 - y0) * MARGIN
    left, top = max(0, int(x0 - mx)), max(0, int(y0 - my))
    right, bottom = min(w, int(x1 + mx)), min(h, int(y1 + my))
    if right <= left or bottom <= top:
        return None
    face = frame.image[top:bottom, left:right]
    face = cv2.resize(face, (max(1, round(face.shape[1] * HEIGHT / face.shape[0])), HEIGHT),
                      interpolation=cv2.INTER_AREA)
    ok, jpeg = cv2.imencode(".jpg", face, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return jpeg.tobytes() if ok else None
