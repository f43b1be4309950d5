"""Burn-in: stream the video, draw the cues of each frame, encode with the original audio.

Memory stays flat whatever the length: one decoded frame at a time, a few
cached text patches, and the cue list (a few hundred bytes per phrase plus one
point per frame it is on screen). The subtitle files beside the video are
written only after the video itself is complete, so a failure leaves nothing.
"""

from __future__ import annotations

import bisect
import os
from pathlib import Path

import numpy as np

from .. import jobs, media
from ..errors import InputError
from ..files import check_output_path, write_text_atomic
from ..scene import Scene
from . import ass, effects
from .draw import UNKNOWN, Renderer, blend, brackets, cue_speakers, speaker_colors
from .layout import Cue, layout


class Painter:
    """Draws every cue visible at time t onto a frame (also used by `sceneglot preview`)."""

    def __init__(self, scene: Scene, cues: list[Cue] | None = None, renderer: Renderer | None = None) -> None:
        self.scene = scene
        self.renderer = renderer or Renderer(scene.media.height, scene.target_language)
        self.cues = sorted(cues if cues is not None else layout(scene, self.renderer.measure), key=lambda c: c.start)
        self._starts = [c.start for c in self.cues]
        self._longest = max((c.end - c.start for c in self.cues), default=0.0)
        self.colors = speaker_colors(cue_speakers(scene, self.cues))
        self.fps = scene.media.fps or 25.0

    def visible(self, t: float) -> list[Cue]:
        hi = bisect.bisect_right(self._starts, t + 1e-6)
        lo = bisect.bisect_left(self._starts, t - self._longest - 1e-6)
        return [c for c in self.cues[lo:hi] if c.start - 1e-6 <= t < c.end - 1e-6]

    def paint(self, image: np.ndarray, t: float) -> np.ndarray:
        """Draw onto `image` in place and return it."""
        for cue in self.visible(t):
            rgb = self.colors.get(cue.speaker, UNKNOWN)
            face = cue.face_at(t)
            if face is not None:
                brackets(image, face, rgb)
            lines, phase = effects.visible_lines(cue, t, self.fps)
            tag = cue.name if cue.tagged else None
            if phase == "type":
                typed = [s.replace(effects.CURSOR, "") for s in lines]
                patch = self.renderer.typing(cue.lines, typed, rgb, cue.width, cue.height, tag)
            else:
                patch = self.renderer.block(lines, rgb, cue.width, cue.height, tag)
            x, y = cue.at(t)
            blend(image, patch, x, y)
        return image


def export_paths(output: Path, scene: Scene) -> dict[str, Path]:
    """OUT.mp4 -> OUT.<src>.srt/.vtt, OUT.<tgt>.srt/.vtt (when translated) and OUT.ass."""
    src = scene.source_language or "source"
    paths = {"source_srt": output.with_suffix(f".{src}.srt"), "source_vtt": output.with_suffix(f".{src}.vtt"),
             "ass": output.with_suffix(".ass")}
    if any(s.translation for s in scene.segments):
        tgt = scene.target_language or "translation"
        if tgt == src:
            tgt = f"{tgt}.translated"
        paths["target_srt"] = output.with_suffix(f".{tgt}.srt")
        paths["target_vtt"] = output.with_suffix(f".{tgt}.vtt")
    return paths


def export_texts(scene: Scene, cues: list[Cue], output: Path) -> dict[Path, str]:
    """Every subtitle file beside OUTPUT, as {path: text}: source/target SRT and WebVTT, and ASS.

    No cues (no speech found) means no files: an SRT without a cue is an empty
    file that parsers cannot even identify as SRT.
    """
    from . import export  # SRT/WebVTT writers

    if not cues:
        return {}
    paths = export_paths(output, scene)
    texts = {
        paths["source_srt"]: export.to_srt(cues, use_translation=False),
        paths["source_vtt"]: export.to_vtt(cues, use_translation=False),
        paths["ass"]: ass.to_ass(scene, cues, scene.media.width, scene.media.height),
    }
    if "target_srt" in paths:
        texts[paths["target_srt"]] = export.to_srt(cues, use_translation=True)
        texts[paths["target_vtt"]] = export.to_vtt(cues, use_translation=True)
    return texts


def render_video(painter: Painter, src: Path, out: Path, info: media.MediaInfo | None = None,
                 preset: str = "veryfast") -> int:
    """Decode, draw, encode (with the source's audio); returns the number of frames written.

    `preset` is x264's speed/size trade-off: "ultrafast" encodes about twice as fast for ~3x the bytes.
    """
    info = info or media.probe(src)
    fps = info.fps or painter.fps
    n = 0
    last = None
    total = info.frame_count or round(info.duration * fps) or None
    with media.VideoWriter(out, fps, info.width, info.height, audio_from=src if info.has_audio else None,
                           preset=preset) as writer:
        for frame in jobs.timed("decode", media.iter_frames(src)):
            jobs.step(n, total, "frames")  # progress; a cancelled job stops here (the writer removes its file)
            # Frames lost to damage in the source: hold the last picture, so what follows stays in sync.
            while last is not None and n < round(frame.time * fps) - 0.5:
                with jobs.part("encode"):
                    writer.write(last)
                n += 1
            with jobs.part("draw"):
                last = painter.paint(frame.image, frame.time)  # a fresh array per decoded frame
            with jobs.part("encode"):
                writer.write(last)
            n += 1
    return n


def burn(scene: Scene, input_path: str | os.PathLike, output_path: str | os.PathLike, *,
         preset: str = "veryfast") -> Path:
    """Write OUTPUT (the input video with subtitles drawn in, same audio and duration) and its subtitle files."""
    src = media.check_input(input_path)
    out = check_output_path(output_path, src)
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"output must be an .mp4 file: {out}")
    info = media.probe(src)
    if not info.has_video:
        raise InputError(f"no video track to draw on in: {src}")
    if (info.width, info.height) != (scene.media.width, scene.media.height):
        raise InputError(f"scene is for {scene.media.width}x{scene.media.height} video, {src} is "
                         f"{info.width}x{info.height}")
    with jobs.part("layout"):
        painter = Painter(scene)
        texts = export_texts(scene, painter.cues, out)  # before the video: a failure here leaves nothing
    for path in texts:
        check_output_path(path, src)
    render_video(painter, src, out, info, preset)
    for path, text in texts.items():
        write_text_atomic(path, text)
    return out
