"""A debug video: every frame with its tracks' boxes, track ids and person ids drawn on (source audio kept)."""

from __future__ import annotations

import colorsys
from typing import TYPE_CHECKING

import cv2

from .. import media

if TYPE_CHECKING:
    from . import FacesResult


def _colour(index: int) -> tuple[int, int, int]:
    r, g, b = colorsys.hsv_to_rgb((index * 0.618034) % 1.0, 0.85, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def render(path, result: FacesResult, out_path) -> None:
    """Re-decode `path` and write `out_path`; cut frames get a red bar so shot changes are visible."""
    info = media.probe(path)
    by_time: dict[float, list[tuple[str, str | None, list[float]]]] = {}
    for tr in result.tracks:
        for row in tr.boxes:
            by_time.setdefault(round(row[0], 4), []).append((tr.id, tr.person, row[1:]))
    person_index = {p.id: n for n, p in enumerate(result.persons)}
    cut_times = {round(s.start, 4) for s in result.shots[1:]}
    fps = info.frame_rate
    with media.VideoWriter(out_path, fps, info.width, info.height,
                           audio_from=path if info.has_audio else None) as out:
        for fr in media.iter_frames(path):
            img = fr.image
            key = round(fr.time, 4)
            if key in cut_times:
                cv2.rectangle(img, (0, 0), (img.shape[1] - 1, 12), (0, 0, 255), -1)
            for track_id, person, box in by_time.get(key, []):
                colour = _colour(person_index.get(person, 99))
                x0, y0, x1, y1 = (round(v) for v in box)
                cv2.rectangle(img, (x0, y0), (x1, y1), colour, 2)
                label = f"{person or '?'} {track_id}"
                cv2.putText(img, label, (x0, max(16, y0 - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.6, colour, 2)
            out.write(img)
