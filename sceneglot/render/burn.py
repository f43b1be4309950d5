"""Burn-in: stream the video, draw the cues of each frame, encode with the original audio.

Memory stays flat whatever the length: a few decoded frames (the decoder runs
up to four ahead, in its own thread), a few cached text patches and their YUV
tiles, and the cue list (a few hundred bytes per phrase plus one point per
frame it is on screen). Frames are never converted to RGB: see `YuvPainter`. The subtitle files beside the video are
written only after the video itself is complete, so a failure leaves nothing.
"""

from __future__ import annotations

import bisect
import contextvars
import dataclasses
import os
import queue
import threading
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import av
import numpy as np

from .. import jobs, media
from ..errors import InputError
from ..files import check_output_path, write_text_atomic
from ..scene import Scene
from . import ass, effects, yuv
from . import quality as _quality
from .draw import UNKNOWN, Renderer, blend, bracket_masks, brackets, cue_speakers, reveal, speaker_colors
from .layout import Cue, layout

T = TypeVar("T")
# FFmpeg's AVColorSpace (a frame's tag) -> libswscale's SWS_CS_* (what reformat takes); untagged: swscale's default.
_SWS_COLORSPACE = {1: 1, 4: 4, 5: 5, 6: 5, 7: 7, 9: 9, 10: 9}
_RANGE_JPEG = 2  # AVCOL_RANGE_JPEG: full-range samples


@dataclass(frozen=True)
class Bracket:
    """Corner brackets around the speaking face."""

    box: tuple[int, int, int, int]
    rgb: tuple[int, int, int]


@dataclass(frozen=True)
class Block:
    """One cue's text block at (x, y); `typing` blocks show `lines` as typed prefixes of `full`."""

    lines: tuple[str, ...]
    full: tuple[str, ...]
    typing: bool
    rgb: tuple[int, int, int]
    width: int
    height: int
    tag: str | None
    x: int
    y: int

    @property
    def look(self) -> tuple:
        """Everything but the position: two blocks with the same look are the same picture."""
        return self.lines, self.full, self.typing, self.rgb, self.width, self.height, self.tag


class Painter:
    """What is drawn at time t (`elements`) and drawing it onto BGR frames (`paint`, for `sceneglot preview`)."""

    def __init__(self, scene: Scene, cues: list[Cue] | None = None, renderer: Renderer | None = None) -> None:
        self.scene = scene
        self.renderer = renderer or Renderer(scene.media.height, scene.target_language)
        self.cues = sorted(cues if cues is not None else layout(scene, self.renderer.measure), key=lambda c: c.start)
        self._starts = [c.start for c in self.cues]
        self._longest = max((c.end - c.start for c in self.cues), default=0.0)
        self.colors = speaker_colors(cue_speakers(scene, self.cues))
        self.fps = scene.media.frame_rate

    def visible(self, t: float) -> list[Cue]:
        hi = bisect.bisect_right(self._starts, t + 1e-6)
        lo = bisect.bisect_left(self._starts, t - self._longest - 1e-6)
        return [c for c in self.cues[lo:hi] if c.start - 1e-6 <= t < c.end - 1e-6]

    def elements(self, t: float) -> list[Bracket | Block]:
        """The brackets and text blocks on screen at t, in drawing order: equal lists draw equal overlays."""
        out: list[Bracket | Block] = []
        for cue in self.visible(t):
            rgb = self.colors.get(cue.speaker, UNKNOWN)
            face = cue.face_at(t)
            if face is not None:
                out.append(Bracket(face, rgb))
            lines, phase = effects.visible_lines(cue, t, self.fps)
            typing = phase == "type"
            if typing:
                lines = [s.replace(effects.CURSOR, "") for s in lines]
            x, y = cue.at(t)
            out.append(Block(tuple(lines), tuple(cue.lines), typing, rgb, cue.width, cue.height,
                             cue.name if cue.tagged else None, x, y))
        return out

    def patch(self, block: Block) -> np.ndarray:
        """The block's RGBA (BGR order + alpha) picture; the renderer caches finished blocks."""
        if block.typing:
            return self.renderer.typing(block.full, block.lines, block.rgb, block.width, block.height, block.tag)
        return self.renderer.block(block.lines, block.rgb, block.width, block.height, block.tag)

    def paint(self, image: np.ndarray, t: float) -> np.ndarray:
        """Draw onto the BGR `image` in place and return it."""
        for el in self.elements(t):
            if isinstance(el, Bracket):
                brackets(image, el.box, el.rgb)
            else:
                blend(image, self.patch(el), el.x, el.y)
        return image


class YuvPainter:
    """The painter's overlays as YUV tiles, remade only when what is on screen changes.

    Consecutive frames with the same elements reuse the last frame's tiles; a finished block is
    converted to YUV once (and cut into a tile once per position parity while it stays inside the
    frame), a typing block is revealed from its converted full and blank blocks, so the cost of a
    frame is the blend of the pixels the subtitles cover, and nothing for a frame without any.
    """

    def __init__(self, painter: Painter, width: int, height: int, colorspace: int | None = None,
                 full_range: bool = False) -> None:
        self.painter, self.width, self.height = painter, width, height
        self.convert = yuv.Converter(colorspace, full_range)
        self._last: tuple[list, list[yuv.Tile]] = ([], [])
        self._looks: OrderedDict[tuple, np.ndarray] = OrderedDict()  # block look -> YUVA patch
        self._tiles: OrderedDict[tuple, yuv.Tile] = OrderedDict()  # (what, x % 2, y % 2) -> tile at x // 2 * 2
        self._colours: dict[tuple[int, int, int], np.ndarray] = {}

    def tiles(self, t: float) -> list[yuv.Tile]:
        elements = self.painter.elements(t)
        if elements == self._last[0]:
            return self._last[1]
        tiles: list[yuv.Tile] = []
        for el in elements:
            if isinstance(el, Bracket):
                colour = self._colour(el.rgb)
                for corner, (x, y, mask) in enumerate(bracket_masks(el.box, self.width, self.height)):
                    plane = np.broadcast_to(colour[:, None, None], (3, *mask.shape))
                    tiles.append(self._placed(("bracket", corner, mask.shape, el.rgb), lambda p=plane, m=mask: (p, m),
                                              x, y, mask.shape))
            else:
                tiles.append(self._placed(("block", el.look), lambda b=el: self._yuva(b), el.x, el.y,
                                          (el.height, el.width)))
        tiles = [x for x in tiles if x is not None]
        self._last = (elements, tiles)
        return tiles

    def _colour(self, rgb: tuple[int, int, int]) -> np.ndarray:
        if rgb not in self._colours:
            self._colours[rgb] = self.convert.colour(rgb)
        return self._colours[rgb]

    def _look(self, lines: tuple[str, ...], block: Block) -> np.ndarray:
        key = (lines, block.rgb, block.width, block.height, block.tag)
        found = self._looks.get(key)
        if found is None:
            patch = self.painter.renderer.block(list(lines), block.rgb, block.width, block.height, block.tag)
            found = self._looks[key] = self.convert.yuva(patch)
            if len(self._looks) > 32:
                self._looks.popitem(last=False)
        else:
            self._looks.move_to_end(key)
        return found

    def _yuva(self, block: Block) -> tuple[np.ndarray, np.ndarray]:
        """(3, h, w) YUV and (h, w) coverage of a block."""
        if block.typing:
            renderer = self.painter.renderer
            edges = renderer.typing_edges(block.full, block.lines, block.width, block.tag)
            fill = np.append(self._colour(block.rgb), np.uint8(255))
            patch = reveal(self._look(block.full, block), self._look(("",) * len(block.full), block), edges,
                           block.rgb, renderer.cursor_width, fill)
        else:
            patch = self._look(block.lines, block)
        return patch[..., :3].transpose(2, 0, 1), patch[..., 3]

    def _placed(self, key: tuple, make, x: int, y: int, shape: tuple[int, int]) -> yuv.Tile | None:
        """The tile for `make()` (an (h, w) = `shape` picture) at (x, y); cut once per parity of (x, y) while
        it lies inside the frame."""
        h, w = shape
        if not (x >= 0 and y >= 0 and x + w <= self.width and y + h <= self.height):
            return yuv.make_tile(*make(), x, y, self.width, self.height)
        k = (key, x % 2, y % 2)
        tile = self._tiles.get(k)
        if tile is None:
            tile = self._tiles[k] = yuv.make_tile(*make(), x % 2, y % 2, self.width, self.height)
            if len(self._tiles) > 64:
                self._tiles.popitem(last=False)
        else:
            self._tiles.move_to_end(k)
        return dataclasses.replace(tile, x=x - x % 2, y=y - y % 2)


def export_paths(output: Path, scene: Scene) -> dict[str, Path]:
    """OUT.mp4 -> OUT.<src>.srt/.vtt, OUT.<tgt>.srt/.vtt (when translated) and OUT.ass.

    A video named for a language already (the job folder's INPUT.pt.mp4, or -o cut2.pt.mp4) does not
    name it twice: cut2.pt.mp4 -> cut2.pt.srt and cut2.en.srt; the ASS, the video's own look, keeps
    the video's name (cut2.pt.ass).
    """
    src = scene.source_language or "source"
    tgt = None
    if any(s.translation for s in scene.segments):
        tgt = scene.target_language or "translation"
        if tgt == src:
            tgt = f"{tgt}.translated"
    stem = output.with_suffix("")
    if stem.suffix[1:] in {src, tgt}:
        stem = stem.with_suffix("")
    paths = {"source_srt": stem.with_name(f"{stem.name}.{src}.srt"),
             "source_vtt": stem.with_name(f"{stem.name}.{src}.vtt"), "ass": output.with_suffix(".ass")}
    if tgt is not None:
        paths["target_srt"] = stem.with_name(f"{stem.name}.{tgt}.srt")
        paths["target_vtt"] = stem.with_name(f"{stem.name}.{tgt}.vtt")
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


def _ahead(items: Iterator[T], depth: int = 4) -> Iterator[T]:
    """`items` produced by a thread at most `depth` ahead of the consumer (decode beside draw and encode).

    PyAV decodes without the GIL, so the decoder runs on one core while this thread draws and the
    encoder works on the other. An error in the producer is raised here; a consumer that stops early
    stops the producer too.
    """
    q: queue.Queue = queue.Queue(depth)
    stop = threading.Event()
    end = object()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put((item, None), timeout=0.1)
                        break
                    except queue.Full:
                        pass
                if stop.is_set():
                    break
            result = (end, None)
        except BaseException as exc:  # handed to the consumer
            result = (end, exc)
        finally:
            close = getattr(items, "close", None)
            if close:
                close()
        while not stop.is_set():
            try:
                q.put(result, timeout=0.1)
                return
            except queue.Full:
                pass

    context = contextvars.copy_context()  # the job's stage: the producer's timing reports to it
    thread = threading.Thread(target=context.run, args=(produce,), name="sceneglot-decode", daemon=True)
    thread.start()
    try:
        while True:
            item, exc = q.get()
            if item is end:
                if exc is not None:
                    raise exc
                return
            yield item
    finally:
        stop.set()
        thread.join()


def render_video(painter: Painter, src: Path, out: Path, info: media.MediaInfo | None = None,
                 quality: str = _quality.DEFAULT, encoders: Sequence[media.Encoder] | None = None) -> int:
    """Decode, draw, encode (with the source's audio); returns the number of frames written.

    Frames stay in the decoder's YUV: a frame with nothing on it goes to the encoder as decoded,
    one with subtitles is copied and has its overlay tiles blended into its planes. `encoders`
    (default: `quality.for_machine(quality)`) are tried in order.
    """
    info = info or media.probe(src)
    fps = info.fps or painter.fps
    encoders = tuple(encoders or _quality.for_machine(quality))
    n = 0
    last = None
    total = info.frame_count or round(info.duration * fps) or None
    with media.VideoWriter(out, fps, info.width, info.height, audio_from=src if info.has_audio else None,
                           encoders=encoders) as writer:
        overlay: YuvPainter | None = None
        canvas: av.VideoFrame | None = None  # our frame the drawn pictures are copied into, reused
        for frame in _ahead(jobs.timed("decode", media.iter_frames(src, raw=True))):
            jobs.step(n, total, "frames")  # progress; a cancelled job stops here (the writer removes its file)
            picture = frame.image
            if overlay is None:
                writer.colors_like(picture)
                # Drawn frames keep yuv420p with the source's range (a yuvj420p source is made limited range).
                full = picture.format.name == "yuv420p" and int(picture.color_range or 0) == _RANGE_JPEG
                overlay = YuvPainter(painter, writer.width, writer.height, _SWS_COLORSPACE.get(picture.colorspace),
                                     full)
            # Frames lost to damage in the source: hold the last picture, so what follows stays in sync.
            while last is not None and n < round(frame.time * fps) - 0.5:
                with jobs.part("encode"):
                    writer.write_frame(last)
                n += 1
            with jobs.part("draw"):
                tiles = overlay.tiles(frame.time)
                as_is = (not tiles and not int(picture.rotation or 0) % 360
                         and (picture.width, picture.height) == (writer.width, writer.height))
                if as_is:
                    last = picture
                else:
                    last = canvas = yuv.drawable(picture, writer.width, writer.height, canvas)
                    planes = yuv.planes(last)
                    for tile in tiles:
                        yuv.blend(planes, tile)
            with jobs.part("encode"):
                writer.write_frame(last)
            n += 1
    return n


def burn(scene: Scene, input_path: str | os.PathLike, output_path: str | os.PathLike, *,
         quality: str = _quality.DEFAULT, info: media.MediaInfo | None = None) -> Path:
    """Write OUTPUT (the input video with subtitles drawn in, same audio and duration) and its subtitle files.

    `quality`: fast | balanced | best (`render.quality`); `info`: the input's probe, when the caller has it.
    """
    src = media.check_input(input_path)
    out = check_output_path(output_path, src)
    if out.suffix.lower() not in (".mp4", ".m4v", ".mov"):
        raise InputError(f"output must be an .mp4 file: {out}")
    _quality.check(quality)
    info = info or media.probe(src)
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
    render_video(painter, src, out, info, quality)
    for path, text in texts.items():
        write_text_atomic(path, text)
    return out
