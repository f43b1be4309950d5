"""Debug video for the audio-visual stage: each face's box, person and ASD score, and who the phrase is given to."""

from __future__ import annotations

import cv2

from .. import media
from ..scene import Scene
from .features import FPS

_GREEN, _RED, _WHITE = (60, 220, 60), (60, 60, 230), (255, 255, 255)


def render(path, scene: Scene, out_path) -> None:
    """Re-decode `path` at its own rate; boxes are green while the face's score is > 0, red otherwise."""
    info = media.probe(path)
    fps = info.frame_rate
    boxes: dict[int, list] = {}
    for tr in scene.tracks:
        scores = {round(t * FPS): s for t, s in tr.speaking}
        for row in tr.boxes:
            boxes.setdefault(round(row[0] * FPS), []).append((tr, row[1:], scores.get(round(row[0] * FPS))))
    with media.VideoWriter(out_path, fps, info.width, info.height,
                           audio_from=path if info.has_audio else None) as out:
        for fr in media.iter_frames(path):
            img = fr.image
            for tr, box, score in boxes.get(round(fr.time * FPS), []):
                colour = _WHITE if score is None else (_GREEN if score > 0 else _RED)
                x0, y0, x1, y1 = (round(v) for v in box)
                cv2.rectangle(img, (x0, y0), (x1, y1), colour, 3)
                label = f"{tr.person or '?'} {tr.id} " + ("--" if score is None else f"{score:+.1f}")
                cv2.putText(img, label, (x0, max(24, y0 - 8)), cv2.FONT_HERSHEY_SIMPLEX, 0.9, colour, 2)
            seg = next((s for s in scene.segments if s.start <= fr.time < s.end), None)
            if seg is not None:
                who = f"{seg.speaker or '?'} -> {seg.person or 'off screen'}"
                text = f"[{who}] {seg.text[:70]}"
                cv2.putText(img, text, (20, img.shape[0] - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (0, 0, 0), 5)
                cv2.putText(img, text, (20, img.shape[0] - 24), cv2.FONT_HERSHEY_SIMPLEX, 0.8, _WHITE, 2)
            out.write(img)
